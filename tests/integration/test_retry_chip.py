"""--retry on the real emulated chip: a retried test gets a new chip (a new QEMU process, its RAM
at power-on state), a flaky test is reported FLAKY, a failing one fails after N+1 attempts."""

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from xml.etree import ElementTree

import pytest

pytestmark = pytest.mark.targets("qsm-washer")
ROOT = Path(__file__).resolve().parents[2]

INNER = """
import json
from pathlib import Path

HERE = Path(__file__).parent

def attempt(name):
    f = HERE / f"{name}.attempts"
    n = int(f.read_text()) + 1 if f.exists() else 1
    f.write_text(str(n))
    return n

def test_flaky(dut):
    n = attempt("flaky")
    seen = dut.symbols["stimulus.imbalance"]
    (HERE / f"flaky.{n}.json").write_text(json.dumps({"pid": dut.backend.pid, "seen": seen}))
    dut.symbols["stimulus.imbalance"] = 77  # left behind on this chip
    assert n >= 2, "fails on its first attempt"

def test_always_fails(dut):
    attempt("always")
    assert dut.command("status").startswith("state=RUNNING"), "the washer is idle"

def test_next_one_runs(dut):
    attempt("next")
    assert dut.command("status").startswith("state=IDLE")
"""


def _run(pytester, monkeypatch, *args):
    pytester.makeini(f"""
        [pytest]
        harness_targets_dir = {ROOT / 'targets'}
        harness_bench = {ROOT / 'targets' / 'benches' / 'emulated.yaml'}
    """)
    pytester.makepyfile(test_inner=INNER)
    rundir = Path(tempfile.mkdtemp(prefix="h", dir="/tmp"))
    monkeypatch.setenv("HARNESS_RUNDIR", str(rundir))
    try:
        result = pytester.runpytest_subprocess("--target", "qsm-washer", "--junitxml=j.xml",
                                               "-p", "no:cacheprovider", *args)
        assert list(rundir.iterdir()) == [], "run dirs leaked"
    finally:
        shutil.rmtree(rundir, ignore_errors=True)
    return result


def _attempts(pytester, name):
    f = pytester.path / f"{name}.attempts"
    return int(f.read_text()) if f.exists() else 0


def _properties(pytester, test):
    root = ElementTree.parse(pytester.path / "j.xml").getroot()
    cases = [c for c in root.iter("testcase") if c.get("name") == f"{test}[qsm-washer]"]
    assert len(cases) == 1, f"one <testcase> for {test}"
    return [(p.get("name"), p.get("value")) for p in cases[0].iterfind("properties/property")]


def _check_retried_run(pytester, result, attempts_of_failing=2):
    result.stdout.fnmatch_lines([
        "FLAKY test_inner.py::test_flaky?qsm-washer? - 2 attempts, passed on the last; "
        "attempt 1 failed in call: AssertionError: fails on its first attempt*",
        f"FAILED test_inner.py::test_always_fails?qsm-washer? - failed all "
        f"{attempts_of_failing} attempts"])
    counts = result.parseoutcomes()
    assert (counts["failed"], counts["passed"], counts["flaky"]) == (1, 1, 1)
    assert result.ret == 1
    assert (_attempts(pytester, "flaky"), _attempts(pytester, "always"),
            _attempts(pytester, "next")) == (2, attempts_of_failing, 1)

    # the second attempt ran on another chip, which the first attempt's write never reached
    first, second = (json.loads((pytester.path / f"flaky.{n}.json").read_text())
                     for n in (1, 2))
    assert first["seen"] == second["seen"] == 0
    assert first["pid"] != second["pid"]

    props = _properties(pytester, "test_flaky")
    assert ("harness_attempts", "2") in props and ("harness_outcome", "flaky") in props
    first_text = dict(props)["harness_attempt_1"]
    assert "fails on its first attempt" in first_text
    # the failed attempt's logs are kept beside the test's, which hold the last attempt's
    kept = Path(first_text.splitlines()[0].removeprefix("logs: "))
    last = Path(dict(props)["log_dir"])
    assert kept == last.with_name(last.name + ".attempt-1")
    assert (kept / "qsm-washer.shell.log").is_file() and (last / "qsm-washer.shell.log").is_file()
    assert dict(props)["target"] == "qsm-washer"
    assert [n for n, _ in props].count("target") == 1  # the final attempt's properties only
    props = _properties(pytester, "test_always_fails")
    assert ("harness_attempts", str(attempts_of_failing)) in props


@pytest.mark.parametrize("scope", ["function", "module"])
def test_a_retried_test_gets_a_fresh_chip_and_is_reported_flaky(pytester, monkeypatch, scope):
    result = _run(pytester, monkeypatch, "--retry", "1", "--dut-scope", scope, "-v")
    result.stdout.fnmatch_lines(["*test_flaky?qsm-washer? RERUN*",
                                 "*test_flaky?qsm-washer? FLAKY*"])
    _check_retried_run(pytester, result)


def test_an_always_failing_test_fails_after_n_plus_one_attempts(pytester, monkeypatch):
    result = _run(pytester, monkeypatch, "--retry", "2", "--summary")
    _check_retried_run(pytester, result, attempts_of_failing=3)
    # the summary table shows the flaky test as FLAKY, not PASSED
    result.stdout.re_match_lines([r".*test_flaky\[qsm-washer\].*FLAKY.*",
                                  r"3 tests: 1 failed, 1 flaky, 1 passed in .*"])


def test_without_retry_nothing_changes(pytester, monkeypatch):
    result = _run(pytester, monkeypatch)
    counts = result.parseoutcomes()
    assert (counts["failed"], counts["passed"]) == (2, 1) and len(counts) <= 3
    assert "rerun" not in counts and "flaky" not in counts
    assert (_attempts(pytester, "flaky"), _attempts(pytester, "always")) == (1, 1)
    assert "harness_attempts" not in (pytester.path / "j.xml").read_text()


def test_under_xdist(pytester, monkeypatch):
    result = _run(pytester, monkeypatch, "--retry", "1", "-n", "2")
    _check_retried_run(pytester, result)


@pytest.fixture(scope="module")
def selftest_elf(tmp_path_factory) -> Path:
    """The washer's C unit-test image with qtest's self-test (C tests that fail)."""
    build = tmp_path_factory.mktemp("qtest-selftest")
    subprocess.run(["make", "-s", "-C", str(ROOT / "firmware"), f"BUILD={build}",
                    "EXTRA_CFLAGS=-DQTEST_SELFTEST=1", "washer/tests"], check=True,
                   capture_output=True, text=True)
    return build / "washer" / "tests" / "washer" / "tests.elf"


def test_a_retried_c_test_runs_on_a_new_chip(pytester, monkeypatch, selftest_elf):
    # C tests share one chip per image; a retry must not: count the chips that came up
    pytester.makeconftest("""
        from pathlib import Path

        def pytest_harness_dut_ready(dut, slot, item):
            with (Path(__file__).parent / "chips").open("a") as fh:
                fh.write(f"{item.name} {dut.backend.pid}\\n")
    """)
    (pytester.path / "ctest.yaml").write_text(
        f"target: qsm-washer\nbuild: ['true']\nelf: {selftest_elf}\n"
        f"source_dir: {ROOT / 'firmware'}\n")
    pytester.makeini(f"""
        [pytest]
        harness_targets_dir = {ROOT / 'targets'}
        harness_bench = {ROOT / 'targets' / 'benches' / 'emulated.yaml'}
    """)
    result = pytester.runpytest_subprocess("--retry", "1", "-p", "no:cacheprovider",
                                           "-k", "qtest_self and (passes or fails_eq)")
    result.stdout.fnmatch_lines(["FAILED ctest.yaml::qtest_self.fails_eq - failed all 2 "
                                 "attempts"])
    chips = (pytester.path / "chips").read_text().splitlines()
    assert [c.split()[0] for c in chips] == ["qtest_self.passes", "qtest_self.fails_eq"]
    assert len({c.split()[1] for c in chips}) == 2
