"""Plugin options against real QEMU: --firmware, --dut-scope, bad firmware paths; the CLI."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import patience

pytestmark = pytest.mark.targets("qsm-washer")
ROOT = Path(__file__).resolve().parents[2]

INNER = """
def test_uptime(dut, request):
    st = dict(kv.split("=") for kv in dut.command("status").split())
    request.node.user_properties.append(("t", st["t"]))
    print("PID", dut.backend.pid)
"""


def _setup(pytester):
    pytester.makeini(f"""
        [pytest]
        harness_targets_dir = {ROOT / 'targets'}
        harness_targets = qsm-washer
        harness_bench = {ROOT / 'targets' / 'benches' / 'emulated.yaml'}
    """)


def test_firmware_option_tests_a_users_own_elf(pytester, dut):
    _setup(pytester)
    own = pytester.path / "my-build.elf"
    shutil.copy(dut.image.path, own)
    pytester.makepyfile(test_own="""
        def test_it(dut):
            assert dut.image.path.name == "my-build.elf"
            assert dut.running_version == dut.image.version
    """)
    result = pytester.runpytest_subprocess("--firmware", f"qsm-washer={own}", "--no-build")
    result.assert_outcomes(passed=1)


def test_missing_firmware_is_an_error_naming_the_file(pytester):
    _setup(pytester)
    pytester.makepyfile(test_x="def test_it(dut): pass")
    result = pytester.runpytest_subprocess("--firmware", "/nonexistent/fw.elf")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*FirmwareError*/nonexistent/fw.elf*not found*"])


def test_corrupt_firmware_is_an_error(pytester):
    _setup(pytester)
    bad = pytester.path / "bad.elf"
    bad.write_bytes(b"\x7fELF garbage")
    pytester.makepyfile(test_x="def test_it(dut): pass")
    result = pytester.runpytest_subprocess("--firmware", str(bad))
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*FirmwareError*bad.elf*"])


@pytest.mark.parametrize("scope, distinct", [("function", 3), ("module", 1)])
def test_dut_scope(pytester, scope, distinct):
    _setup(pytester)
    pytester.makepyfile(test_a=INNER + INNER.replace("test_uptime", "test_b")
                        + INNER.replace("test_uptime", "test_c"))
    result = pytester.runpytest_subprocess("--dut-scope", scope, "--dut-reuse", "fresh", "-s")
    result.assert_outcomes(passed=3)
    pids = set(re.findall(r"PID (\d+)", result.stdout.str()))
    assert len(pids) == distinct


def test_per_test_logs_are_written(pytester):
    _setup(pytester)
    pytester.makepyfile(test_log=INNER)
    result = pytester.runpytest_subprocess("--results", str(pytester.path / "out"))
    result.assert_outcomes(passed=1)
    logs = list((pytester.path / "out" / "logs").rglob("*.log"))
    assert [p.name for p in logs] == ["qsm-washer.shell.log"]
    text = logs[0].read_text()
    assert "< READY" in text and "> status" in text and "< OK state=IDLE" in text


def test_cli_targets_check_and_elf(dut):
    harness = [sys.executable, "-m", "harness.cli", "--targets-dir", str(ROOT / "targets")]
    out = subprocess.run(harness + ["targets"], capture_output=True, text=True, check=True)
    assert "qsm-washer" in out.stdout and "lm3s6965evb" in out.stdout
    out = subprocess.run(harness + ["check"], capture_output=True, text=True)
    assert out.returncode == 0 and "ok    qsm-washer" in out.stdout
    out = subprocess.run(harness + ["image", str(dut.image.path), "--version-symbol",
                                    "fw_version"], capture_output=True, text=True, check=True)
    assert dut.image.sha256 in out.stdout and str(dut.image.version) in out.stdout
    assert "format   elf" in out.stdout


def test_cli_console_boots_and_answers(tmp_path):
    harness = [sys.executable, "-m", "harness.cli", "--targets-dir", str(ROOT / "targets")]
    out = subprocess.run(harness + ["console", "qsm-washer"], input="version\nstatus\n",
                         capture_output=True, text=True, timeout=patience.limit(60))
    assert out.returncode == 0, out.stderr
    assert "OK product=washer" in out.stdout and "OK state=IDLE" in out.stdout
