"""QEMU dying mid-test is an error naming the DUT, the step and the last console lines; the run
goes on and leaves nothing behind."""

import re
import shutil
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.targets("qsm-washer")
ROOT = Path(__file__).resolve().parents[2]

INNER = """
def test_killed(dut):
    dut.command("status")
    dut.backend.process.kill()  # SIGKILL, as a crash would end it
    dut.command("status")

def test_killed_silently(dut):
    dut.backend.process.kill()

def test_next_one_runs(dut):
    assert dut.command("status").startswith("state=IDLE")
"""

LOCKUP = """
TABLE = 0x2000F000  # a vector table of zeros in RAM: every handler address is invalid


def test_locks_up(dut):
    ex, mem = dut.execution, dut.memory
    ex.halt()
    mem.write(TABLE, bytes(0x100))
    mem.write_u32(0xE000ED08, TABLE)  # VTOR
    ex.write_register("pc", 0xE0001000)  # execute-never: a fault whose HardFault handler
    ex.resume()                            # (address 0, no Thumb bit) faults inside HardFault
    dut.command("status")


def test_next_one_runs(dut):
    assert dut.command("status").startswith("state=IDLE")
"""


def _run(pytester, monkeypatch, *args, inner=INNER):
    pytester.makeini(f"""
        [pytest]
        harness_targets_dir = {ROOT / 'targets'}
        harness_bench = {ROOT / 'targets' / 'benches' / 'emulated.yaml'}
    """)
    pytester.makepyfile(test_inner=inner)
    rundir = Path(tempfile.mkdtemp(prefix="h", dir="/tmp"))
    monkeypatch.setenv("HARNESS_RUNDIR", str(rundir))
    try:
        result = pytester.runpytest_subprocess("--target", "qsm-washer", "--junitxml=j.xml",
                                               "-p", "no:cacheprovider", *args)
        assert list(rundir.iterdir()) == [], "run dirs leaked"
    finally:
        shutil.rmtree(rundir, ignore_errors=True)
    return result


@pytest.mark.parametrize("scope", ["function", "module"])
def test_killed_qemu_is_an_error_and_the_run_goes_on(pytester, monkeypatch, scope):
    result = _run(pytester, monkeypatch, "--dut-scope", scope, "-v")
    out = result.stdout.str()
    result.stdout.fnmatch_lines(["*test_killed?qsm-washer? ERROR*",
                                 "*test_next_one_runs?qsm-washer? PASSED*"])
    assert "DutLost" in out
    assert "DUT qsm-washer (qemu world), last step: command 'status'" in out
    assert "died (signal SIGKILL)" in out
    assert "| READY" in out  # last console lines
    # killed without the test noticing: the teardown check turns it into an error
    assert "ERROR at teardown of test_killed_silently" in out
    assert "the chip died during a passing test" in out
    assert result.ret == 1
    xml = (pytester.path / "j.xml").read_text()
    assert 'name="harness_outcome" value="error"' in xml


def test_under_xdist(pytester, monkeypatch):
    result = _run(pytester, monkeypatch, "-n", "2")
    result.stdout.fnmatch_lines(["*2 passed, 2 errors*"])
    assert result.ret == 1


def test_a_lockup_is_an_error_with_qemus_words_kept_and_the_run_goes_on(pytester, monkeypatch):
    """QEMU 7.2 aborts when the core locks up: the test is an ERROR carrying QEMU's own message,
    its log is kept in the DUT's log directory, and the next test gets a fresh chip."""
    result = _run(pytester, monkeypatch, "-v", inner=LOCKUP)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(["*test_locks_up?qsm-washer? ERROR*",
                                 "*test_next_one_runs?qsm-washer? PASSED*"])
    assert "Lockup" in out, out
    kept = re.search(r"QEMU's log kept at ([^\s)]+)", out)
    assert kept, out
    log = Path(kept.group(1))
    assert log.is_relative_to(pytester.path / "results" / "logs"), log
    assert "Lockup" in log.read_text()
