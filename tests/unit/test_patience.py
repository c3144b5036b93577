"""One place sets how long the harness waits: base × --timeout-factor × measured machine load."""

import os
import subprocess
import sys
import time

import pytest

from harness import patience


@pytest.fixture
def load(monkeypatch):
    """Pretend readings of /proc/loadavg and /proc/pressure/cpu."""
    state = {"loadavg": 0.1, "psi": 0.0}
    monkeypatch.setattr(os, "getloadavg", lambda: (state["loadavg"] * (os.cpu_count() or 1),
                                                    0.0, 0.0))
    monkeypatch.setattr(patience, "_pressure", lambda: 1 / (1 - state["psi"] / 100))
    monkeypatch.setattr(patience, "_cache", (0.0, 1.0))
    monkeypatch.delenv(patience.ENV_FIXED, raising=False)
    monkeypatch.delenv(patience.ENV_FACTOR, raising=False)
    return state


def test_a_quiet_machine_waits_the_base_times_the_factor(load):
    assert patience.limit("console") == patience.BASE["console"]
    assert patience.limit("console", 3.0) == 3 * patience.BASE["console"]
    assert patience.limit(0.5, 2.0) == 1.0


def test_a_busy_machine_waits_longer_by_the_worse_of_load_and_pressure(load, monkeypatch):
    load["loadavg"] = 2.5  # runnable tasks per core
    assert patience.measure() == pytest.approx(2.5)
    load["psi"] = 75.0  # tasks stalled for a CPU 75 % of the last 10 s: 4x slower
    assert patience.measure() == pytest.approx(4.0)
    load["loadavg"], load["psi"] = 50.0, 99.0  # never unbounded: a hang must still end
    assert patience.measure() == patience.MAX_LOAD


def test_the_reading_is_refreshed_but_not_on_every_wait(load, monkeypatch):
    load["loadavg"] = 2.0
    assert patience.machine() == pytest.approx(2.0)
    load["loadavg"] = 3.0
    assert patience.machine() == pytest.approx(2.0)  # read less than REFRESH s ago
    monkeypatch.setattr(patience, "_cache", (time.monotonic() - patience.REFRESH - 1, 2.0))
    assert patience.machine() == pytest.approx(3.0)


def test_fixed_timeouts_ignore_the_machine(load, monkeypatch):
    load["loadavg"] = 4.0
    monkeypatch.setenv(patience.ENV_FIXED, "1")
    assert patience.limit("qmp", 2.0) == 2 * patience.BASE["qmp"]
    assert "fixed" in patience.describe()


def test_processes_started_by_the_harness_get_the_run_factor(load, monkeypatch):
    monkeypatch.setenv(patience.ENV_FACTOR, "2.5")
    monkeypatch.setenv(patience.ENV_FIXED, "1")
    code = "from harness import patience; print(patience.limit('probe_reply'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert float(out) == 2.5 * patience.BASE["probe_reply"]


@pytest.mark.parametrize("bad", ["fast", "0", "-1"])
def test_a_bad_exported_factor_names_the_variable(load, monkeypatch, bad):
    monkeypatch.setenv(patience.ENV_FACTOR, bad)
    with pytest.raises(ValueError, match=patience.ENV_FACTOR):
        patience.limit("qmp")


def test_the_run_header_says_how_patient_the_run_is(pytester):
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--timeout-factor", "3")
    result.stdout.fnmatch_lines(["harness: waits x3 (--timeout-factor), *machine load*"])
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--fixed-timeouts")
    result.stdout.fnmatch_lines(["harness: waits x1 (--timeout-factor), fixed*"])
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--timeout-factor", "0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--timeout-factor 0.0: must be greater than 0*"])
