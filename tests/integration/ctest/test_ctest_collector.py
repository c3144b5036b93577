"""C unit tests as pytest items, end to end: real make, real QEMU (and pyOCD), inner pytest runs.

The self-test image is the washer's unit-test image built with ``-DQTEST_SELFTEST=1``
(``firmware/common/qtest_selftest.c``): tests that pass, fail, fail in a helper, skip in the body
and in setup, and crash the chip — followed by the washer's real tests, which must still run
after the crash.
"""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
IMAGE = "washer/tests"


@pytest.fixture(scope="module")
def selftest_elf(tmp_path_factory) -> Path:
    build = tmp_path_factory.mktemp("qtest-selftest")
    subprocess.run(["make", "-s", "-C", str(ROOT / "firmware"), f"BUILD={build}",
                    "EXTRA_CFLAGS=-DQTEST_SELFTEST=1", IMAGE], check=True,
                   capture_output=True, text=True)
    elf = build / IMAGE / "washer" / "tests.elf"  # build/<chip>/tests/<chip>/tests.elf
    assert elf.exists()
    return elf


def _setup(pytester, elf: Path, target: str = "qsm-washer", extra: str = "") -> None:
    pytester.makeini(f"""
        [pytest]
        harness_targets_dir = {ROOT / 'targets'}
        harness_bench = {ROOT / 'targets' / 'benches' / 'emulated.yaml'}
    """)
    (pytester.path / "ctest.yaml").write_text(
        f"target: {target}\nbuild: ['true']\nelf: {elf}\n"
        f"source_dir: {ROOT / 'firmware'}\n{extra}")


def test_every_outcome_is_its_own_item(pytester, selftest_elf):
    _setup(pytester, selftest_elf)
    result = pytester.runpytest_subprocess("-v", "-rs", "-p", "no:cacheprovider")
    out = result.stdout.str()
    result.assert_outcomes(passed=1 + 12, failed=4, skipped=2)
    assert re.search(r"ctest.yaml::qtest_self.passes PASSED", out)
    assert re.search(r"ctest.yaml::washer.fill_timeout_after_two_minutes PASSED", out)
    # failures name the C file and line of the failing assertion and the values
    src = ROOT / "firmware" / "common" / "qtest_selftest.c"
    assert f"{src}:26: expected answer == 42: 41 vs 42" in out
    assert f"{src}:15: expected v == 2: 3 vs 2" in out
    assert 'expected "left" == "right": "left" vs "right"' in out
    assert "not reached" not in out
    # skips carry the reason, from the body and from the suite's setup
    assert re.search(r"SKIPPED \[1\] .*qtest_selftest.c:\d+: .*qtest_selftest.c:42: "
                     r"needs a real IR receiver", out)
    assert re.search(r"SKIPPED .*setup decided: not on this board", out)
    # the crash fails its own test with the fault report; the chip is reset for the rest
    assert re.search(r"qtest_self.crashes crashed the chip: \*\*\* HARDFAULT pc=0x", out)


def test_runs_in_the_pyocd_world(pytester, selftest_elf):
    _setup(pytester, selftest_elf)
    result = pytester.runpytest_subprocess("--world", "pyocd", "-k", "washer or passes",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1 + 12)


def test_items_spread_over_workers(pytester, selftest_elf):
    _setup(pytester, selftest_elf)
    result = pytester.runpytest_subprocess("-n", "2", "-k", "washer", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=12)


def test_target_not_selected_skips_with_reason(pytester, selftest_elf):
    _setup(pytester, selftest_elf)
    result = pytester.runpytest_subprocess("--target", "qsm-tv", "-rs", "-k", "washer",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=12)
    assert "target qsm-washer not selected" in result.stdout.str()


def test_bad_manifest_is_an_error_naming_file_and_field(pytester, selftest_elf):
    _setup(pytester, selftest_elf, extra="tiemout: 3\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    out = result.stdout.str()
    assert result.ret != 0
    assert "ctest.yaml: invalid ctest manifest" in out
    assert "field 'tiemout': unknown field (typo?)" in out


def test_elf_without_tests_is_an_error(pytester):
    _setup(pytester, ROOT / "firmware" / "build" / "washer" / "washer.elf")
    subprocess.run(["make", "-s", "-C", str(ROOT / "firmware"), "washer"], check=True)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret != 0
    assert "not a qtest image" in result.stdout.str()
