"""--firmware-coverage end to end, in an inner pytest run against the real washer, in QEMU and
through pyOCD: each test's lines are attributed to that test only, the C unit tests count in
the same chip report, gcovr's reports are written, and the run ends with the chip's line."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from harness import firmware as fw

from .conftest import ROOT, WORLDS, function_lines

pytestmark = pytest.mark.targets("qsm-washer")  # (the target fixture: run when selected)

INNER = """
def test_asks_for_faults(dut):
    assert dut.command("faults") == "none"


def test_asks_for_status(dut):
    assert dut.command("status").startswith("state=IDLE")


def test_only_boots(dut):
    pass
"""
MAIN = "firmware/washer/main.c"


def _name(test: str) -> str:
    """A test's function name, or a C test's id (node ids depend on the inner run's root)."""
    return test.split("::")[-1].split("[")[0]


def _lines(data: dict, file: str) -> dict[int, set[str]]:
    tests = [_name(t) for t in data["tests"]]
    return {int(n): {tests[i] for i in who} for n, who in data["files"][file].items()}


def _ready_line() -> int:
    return next(n for n, line in enumerate((ROOT / MAIN).read_text().splitlines(), 1)
                if 'con_line("READY")' in line)


def _run(pytester, *args: str):
    ini = pytester.makeini(f"""
        [pytest]
        harness_targets_dir = {ROOT / 'targets'}
        harness_targets = qsm-washer
        firmware_coverage_exclude =
            firmware/.*/tests/
            firmware/common/qtest
    """)
    tests = pytester.makepyfile(test_inner=INNER)
    out = pytester.path / "out"
    # the project's root, so that the C unit-test image's manifest paths resolve
    result = pytester.runpytest_subprocess(
        "-c", str(ini), "--rootdir", str(ROOT), "-p", "no:cacheprovider", "--results", str(out),
        str(tests), str(ROOT / "firmware/washer/tests"), *args)
    return result, out / "coverage" / "qsm-washer"


@pytest.mark.parametrize("world", WORLDS)
def test_each_line_is_attributed_to_the_tests_that_ran_it(pytester, world, target):
    args = ["--world", "pyocd", "--probe", "qemu:auto"] if world == "pyocd" else []
    result, out = _run(pytester, "--firmware-coverage", *args)
    result.assert_outcomes(passed=15)  # 3 here, 12 C unit tests
    result.stdout.fnmatch_lines(["*= firmware coverage =*",
                                 "qsm-washer: lines *%*, functions *%*, branches *%*; 15 tests;"
                                 " counters read in * ms per test*index.html"])
    data = json.loads((out / "tests-by-line.json").read_text())
    main = _lines(data, MAIN)
    faults, status, boots = "test_asks_for_faults", "test_asks_for_status", "test_only_boots"
    # a handler's lines: the one test that sent its command, and no other
    for fn, owner in (("static void cmd_faults", faults), ("static void cmd_status", status)):
        ran = [n for n in function_lines(MAIN, fn) if n in main]
        assert ran, f"{fn} ran in no test"
        assert all(main[n] == {owner} for n in ran), {n: main[n] for n in ran}
    # the boot: every test of the product image
    assert main[_ready_line()] == {faults, status, boots}
    # the C unit tests count in the same chip report: washer.c lines that only they ran
    ctests = {_name(t) for t in data["tests"] if "ctest.yaml::" in t}
    assert len(ctests) == 12 and all(t.startswith("washer.") for t in ctests)
    washer = _lines(data, "firmware/washer/washer.c")
    assert any(who <= ctests for who in washer.values())
    assert not any(f.startswith("firmware/washer/tests/") for f in data["files"])  # excluded
    # gcovr's reports
    assert (out / "index.html").read_text().count("qsm-washer firmware coverage")
    xml = ET.parse(out / "coverage.xml").getroot()
    assert xml.tag == "coverage" and float(xml.get("line-rate", "0")) > 0.3
    summary = json.loads((out / "summary.json").read_text())
    assert 0 < summary["line_covered"] < summary["line_total"]
    assert "test_asks_for_faults" in (out / "tests.html").read_text()
    assert list((out / "data").rglob("main.gcda")) and list((out / "data").rglob("main.gcno"))


def test_module_scoped_chip_counters_are_zeroed_between_tests(pytester, target):
    result, out = _run(pytester, "--firmware-coverage", "--dut-scope", "module", "-k",
                       "test_inner")
    result.assert_outcomes(passed=3)
    main = _lines(json.loads((out / "tests-by-line.json").read_text()), MAIN)
    # one chip for all three: the first test has the boot; later ones only what they ran
    for fn, owner in (("static void cmd_faults", "test_asks_for_faults"),
                      ("static void cmd_status", "test_asks_for_status")):
        ran = [n for n in function_lines(MAIN, fn) if n in main]
        assert ran and all(main[n] == {owner} for n in ran), {n: main[n] for n in ran}
    assert main[_ready_line()] == {"test_asks_for_faults"}  # the first test: it booted


def test_an_image_without_instrumentation_is_named_and_the_run_goes_on(pytester, target):
    spec = target.firmware  # the usual build
    plain = fw.build(spec.build, ROOT / spec.path, [ROOT / s for s in spec.sources], ROOT)
    result, out = _run(pytester, "--firmware-coverage", "--firmware", f"qsm-washer={plain}",
                       "-k", "test_inner")
    result.assert_outcomes(passed=3, warnings=1)
    result.stdout.fnmatch_lines([
        "*firmware coverage: qsm-washer: washer.elf has no coverage instrumentation*"
        "its tests run without coverage*",
        "*= firmware coverage =*",
        "qsm-washer: no report: no test read counters: washer.elf has no coverage "
        "instrumentation*"])
