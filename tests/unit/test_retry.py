"""--retry through an inner pytest (no emulator): what is retried, how it is reported."""

from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parents[2]

# every inner test counts its attempts in a file next to it
COUNTER = """
from pathlib import Path

def attempt(name):
    f = Path(__file__).parent / f"{name}.attempts"
    n = int(f.read_text()) + 1 if f.exists() else 1
    f.write_text(str(n))
    return n
"""

INNER = COUNTER + """
def test_flaky():
    assert attempt("flaky") >= 2, "fails on its first attempt"

def test_always_fails():
    attempt("always")
    assert False, "never passes"

def test_passes():
    attempt("passes")
"""


def _project(pytester, inner=INNER):
    pytester.makeini(f"""
        [pytest]
        harness_targets_dir = {ROOT / 'targets'}
        harness_bench = {ROOT / 'targets' / 'benches' / 'emulated.yaml'}
    """)
    pytester.makepyfile(test_inner=inner)


def _attempts(pytester, name):
    f = pytester.path / f"{name}.attempts"
    return int(f.read_text()) if f.exists() else 0


def _counts(result):
    """The run's closing line as counts, warnings left out (inline runs may warn)."""
    counts = result.parseoutcomes()
    counts.pop("warnings", None)
    return counts


def _cases(pytester, junit="j.xml"):
    """JUnit test cases: name → (properties, child tags)."""
    root = ElementTree.parse(pytester.path / junit).getroot()
    out = {}
    for case in root.iter("testcase"):
        assert case.get("name") not in out, "one <testcase> per test, whatever its attempts"
        props = [(p.get("name"), p.get("value")) for p in case.iterfind("properties/property")]
        out[case.get("name")] = (props, {c.tag for c in case} - {"properties"})
    return out


def test_a_test_that_passes_on_its_second_attempt_is_flaky(pytester):
    _project(pytester)
    result = pytester.runpytest("--retry", "1", "-v", "--junitxml=j.xml")
    result.stdout.fnmatch_lines([
        "*test_flaky RERUN*", "*test_flaky FLAKY*",
        "*test_always_fails RERUN*", "*test_always_fails FAILED*",
        "*test_passes PASSED*"])
    result.stdout.fnmatch_lines([
        "*retried tests (--retry)*",
        "FLAKY test_inner.py::test_flaky - 2 attempts, passed on the last; attempt 1 failed "
        "in call: AssertionError: fails on its first attempt*",
        "FAILED test_inner.py::test_always_fails - failed all 2 attempts"])
    assert _counts(result) == {"failed": 1, "passed": 1, "rerun": 2, "flaky": 1}
    assert result.ret == 1  # the failure, not the flaky test
    assert (_attempts(pytester, "flaky"), _attempts(pytester, "always"),
            _attempts(pytester, "passes")) == (2, 2, 1)

    cases = _cases(pytester)
    props, tags = cases["test_flaky"]
    assert tags == set()  # passed
    assert ("harness_attempts", "2") in props and ("harness_outcome", "flaky") in props
    first = dict(props)["harness_attempt_1"]
    assert first.startswith("call failed:") and "fails on its first attempt" in first
    props, tags = cases["test_always_fails"]
    assert tags == {"failure"}
    assert ("harness_attempts", "2") in props
    assert "harness_outcome" not in dict(props)
    assert "never passes" in dict(props)["harness_attempt_1"]
    assert cases["test_passes"] == ([], set())


def test_only_flaky_tests_do_not_fail_the_run(pytester):
    _project(pytester, COUNTER + """
def test_flaky():
    assert attempt("flaky") >= 3
""")
    result = pytester.runpytest("--retry", "3")
    assert _counts(result) == {"rerun": 2, "flaky": 1}
    assert result.ret == 0
    assert _attempts(pytester, "flaky") == 3


def test_an_always_failing_test_fails_after_n_plus_one_attempts(pytester):
    _project(pytester)
    result = pytester.runpytest("--retry", "2", "--junitxml=j.xml")
    assert _attempts(pytester, "always") == 3
    result.stdout.fnmatch_lines([
        "*harness: earlier attempts*",
        "attempt 1: call: AssertionError: never passes*",
        "attempt 2: call: AssertionError: never passes*",
        "FAILED test_inner.py::test_always_fails - failed all 3 attempts"])
    props, tags = _cases(pytester)["test_always_fails"]
    assert tags == {"failure"}
    assert ("harness_attempts", "3") in props
    assert [n for n, _ in props if n.startswith("harness_attempt_")] == [
        "harness_attempt_1", "harness_attempt_2"]


def test_without_retry_nothing_changes(pytester):
    _project(pytester)
    result = pytester.runpytest("-v", "--junitxml=j.xml")
    assert _counts(result) == {"failed": 2, "passed": 1}
    out = result.stdout.str()
    assert "RERUN" not in out and "FLAKY" not in out and "retried tests" not in out
    assert _attempts(pytester, "flaky") == 1
    assert "harness_" not in (pytester.path / "j.xml").read_text()


def test_skips_and_xfails_are_never_retried(pytester):
    _project(pytester, COUNTER + """
import pytest

def test_skips():
    attempt("skips")
    pytest.skip("not here")

@pytest.mark.xfail(reason="known bug")
def test_xfails():
    attempt("xfails")
    assert False

@pytest.mark.xfail(reason="fixed?", strict=True)
def test_xpasses_strict():
    attempt("xpasses")
""")
    result = pytester.runpytest("--retry", "2")
    result.assert_outcomes(skipped=1, xfailed=1, failed=1)
    assert [_attempts(pytester, n) for n in ("skips", "xfails", "xpasses")] == [1, 1, 1]
    assert "rerun" not in result.stdout.str()


def test_harness_errors_in_setup_are_retried_other_setup_errors_are_not(pytester):
    _project(pytester, COUNTER + """
import pytest
from harness.errors import DutLost

@pytest.fixture
def chip():
    if attempt("chip") == 1:
        raise DutLost("the emulator died while booting")
    return "chip"

@pytest.fixture
def broken_fixture():
    attempt("broken")
    raise RuntimeError("a bug in the fixture")

@pytest.fixture
def bad_teardown():
    yield
    attempt("teardown")
    raise RuntimeError("a bug in the teardown")

def test_boots_on_the_second_chip(chip):
    pass

def test_broken_fixture(broken_fixture):
    pass

def test_bad_teardown(bad_teardown):
    pass
""")
    result = pytester.runpytest("--retry", "2", "-v", "--junitxml=j.xml")
    result.stdout.fnmatch_lines(["*test_boots_on_the_second_chip RERUN*",
                                 "*test_boots_on_the_second_chip FLAKY*"])
    assert [_attempts(pytester, n) for n in ("chip", "broken", "teardown")] == [2, 1, 1]
    assert _counts(result) == {"passed": 1, "errors": 2, "rerun": 1, "flaky": 1}
    props, _ = _cases(pytester)["test_boots_on_the_second_chip"]
    assert dict(props)["harness_attempt_1"].startswith("setup failed:")
    assert "the emulator died while booting" in dict(props)["harness_attempt_1"]


def test_each_attempt_starts_from_the_item_as_it_was(pytester):
    _project(pytester, COUNTER + """
import pytest

KEY = pytest.StashKey[list]()

def test_flaky(request, record_property):
    n = attempt("flaky")
    seen = list(request.node.stash.setdefault(KEY, []))
    request.node.stash[KEY].append(n)
    record_property("attempt_seen", n)
    record_property("stash_seen", seen)
    assert n >= 2
""")
    pytester.runpytest("--retry", "1", "--junitxml=j.xml")
    props, _ = _cases(pytester)["test_flaky"]
    assert ("attempt_seen", "2") in props and ("stash_seen", "[]") in props
    assert ("attempt_seen", "1") not in props


def test_the_retry_hook_runs_between_attempts(pytester):
    _project(pytester)
    pytester.makeconftest("""
        from pathlib import Path

        def pytest_harness_retry(item, attempt, reports):
            with (Path(__file__).parent / "hook.log").open("a") as fh:
                failed = [r.when for r in reports if r.outcome == "rerun"]
                fh.write(f"{item.name} {attempt} {failed}\\n")
    """)
    pytester.runpytest("--retry", "2")
    lines = (pytester.path / "hook.log").read_text().splitlines()
    assert sorted(lines) == ["test_always_fails 1 ['call']", "test_always_fails 2 ['call']",
                             "test_flaky 1 ['call']"]


def test_under_xdist(pytester):
    _project(pytester)
    result = pytester.runpytest_subprocess("--retry", "1", "-n", "2", "-p", "no:cacheprovider",
                                           "--junitxml=j.xml")
    result.stdout.fnmatch_lines([
        "FLAKY test_inner.py::test_flaky - 2 attempts, passed on the last*",
        "FAILED test_inner.py::test_always_fails - failed all 2 attempts"])
    assert _counts(result) == {"failed": 1, "passed": 1, "rerun": 2, "flaky": 1}
    cases = _cases(pytester)
    assert ("harness_outcome", "flaky") in cases["test_flaky"][0]
    assert ("harness_attempts", "2") in cases["test_always_fails"][0]


def test_a_negative_retry_count_is_a_usage_error(pytester):
    _project(pytester)
    result = pytester.runpytest("--retry", "-1")
    assert result.ret == 4
    assert "--retry -1" in result.stderr.str()


def test_a_deferred_measurement_failure_stays_with_its_attempt(pytester):
    # measure(stop=False) keeps a failed verdict on the item until the test's end: the
    # next attempt starts without it
    _project(pytester, COUNTER + """
def test_level(measure):
    n = attempt("level")
    measure("level", 70.0 if n == 1 else 45.0, "mm", stop=False)
""")
    pytester.makefile(".yaml", limits="""
        product: demo
        version: "1"
        limits:
          - {name: level, low: 30, high: 60, unit: mm}
    """)
    result = pytester.runpytest("--retry", "1", "--limits", "limits.yaml", "--junitxml=j.xml")
    assert _counts(result) == {"rerun": 1, "flaky": 1}
    props, _ = _cases(pytester)["test_level"]
    assert "level = 70 mm: FAIL" in dict(props)["harness_attempt_1"]
    assert ("measurement.level", "45.0 mm pass") in props
    assert ("measurement.level", "70.0 mm fail") not in props
