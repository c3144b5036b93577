"""The coverage plugin's switches, without a chip: option, ini key, the build variant it
substitutes, and what the run says when no test used an instrumented chip."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

INNER = """
from pathlib import Path

def test_variant(harness_manager):
    got = harness_manager.firmware_build(["make", "-C", "fw", "app"],
                                         Path("/p/fw/build/app/app.elf"))
    print("VARIANT", got[0], got[1])
"""


USUAL = "VARIANT ['make', '-C', 'fw', 'app'] /p/fw/build/app/app.elf"
COVERAGE = "VARIANT ['make', '-C', 'fw', 'app', 'COVERAGE=1'] /p/fw/build-cov/app/app.elf"


def _setup(pytester, line: str = "") -> None:
    pytester.makeini(f"""
        [pytest]
        harness_targets_dir = {ROOT / 'targets'}
        {line}
    """)
    pytester.makepyfile(test_inner=INNER)


def test_off_by_default_the_usual_build(pytester):
    _setup(pytester)
    result = pytester.runpytest_subprocess("-s")
    result.assert_outcomes(passed=1)
    assert USUAL in result.stdout.str()
    assert "firmware coverage" not in result.stdout.str()


def test_option_substitutes_the_coverage_build_and_says_so(pytester):
    _setup(pytester)
    result = pytester.runpytest_subprocess("-s", "--firmware-coverage", "--results",
                                           str(pytester.path / "out"))
    result.assert_outcomes(passed=1)
    assert COVERAGE in result.stdout.str()
    result.stdout.fnmatch_lines([
        "firmware coverage: on (COVERAGE=1 builds, *reports in */out/coverage)*",
        "*= firmware coverage =*",
        "no test used an instrumented chip",
    ])


def test_ini_key_turns_it_on_and_the_option_off(pytester):
    _setup(pytester, "firmware_coverage = true")
    assert COVERAGE in pytester.runpytest_subprocess("-s").stdout.str()
    assert USUAL in pytester.runpytest_subprocess("-s", "--no-firmware-coverage").stdout.str()
