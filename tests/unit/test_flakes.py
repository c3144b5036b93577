"""``harness flakes``: the history of runs read from JUnit XML files that pytest itself wrote."""

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.flakes import read_history, read_run

ROOT = Path(__file__).resolve().parents[2]

# attempts are counted across runs, in files next to the inner test module
INNER = """
from pathlib import Path
import pytest

def attempt(name):
    f = Path(__file__).parent / f"{name}.attempts"
    n = int(f.read_text()) + 1 if f.exists() else 1
    f.write_text(str(n))
    return n

def test_stable():
    pass

def test_flaky_once():
    assert attempt("once") > 1, "only the very first attempt fails"

def test_always_flaky():
    assert attempt("odd") % 2 == 0, "every odd attempt fails"

def test_broken():
    assert False

def test_skipped():
    pytest.skip("not on this bench")

@pytest.fixture
def bad_teardown():
    yield
    raise RuntimeError("teardown broke too")

def test_fails_and_teardown_errs(bad_teardown):
    assert False
"""

M = "test_inner::"


_BUILT: list[Path] = []  # the runs are made once per session; each test gets a copy


@pytest.fixture
def history_dir(pytester):
    """Four runs: three with --retry 1 (one of them in a sub-folder, one under xdist), the
    last without; plus an XML file that is no JUnit report."""
    results = pytester.path / "results"
    if _BUILT:
        shutil.copytree(_BUILT[0], results)
        return results
    made = pytester.path / "made"
    pytester.makeini(f"""
        [pytest]
        harness_targets_dir = {ROOT / 'targets'}
        harness_bench = {ROOT / 'targets' / 'benches' / 'emulated.yaml'}
    """)
    pytester.makepyfile(test_inner=INNER)
    pytester.runpytest("--retry", "1", f"--junitxml={made}/junit-1.xml")
    pytester.runpytest("--retry", "1", f"--junitxml={made}/nightly/junit.xml")
    pytester.runpytest_subprocess("--retry", "1", "-n", "2", "-p", "no:cacheprovider",
                                  f"--junitxml={made}/junit-3.xml")
    pytester.runpytest(f"--junitxml={made}/junit-4.xml")
    (made / "coverage.xml").write_text('<?xml version="1.0"?><coverage line-rate="1"/>')
    _BUILT.append(made)
    shutil.copytree(made, results)
    return results


def test_history_counts_runs_failures_and_flaky_runs(history_dir):
    history = read_history(history_dir)
    assert [p.relative_to(history_dir).as_posix() for p in history.files] == [
        "junit-1.xml", "junit-3.xml", "junit-4.xml", "nightly/junit.xml"]
    assert history.problems == []
    got = {r.test: (r.runs, r.failures, r.flaky, r.skipped) for r in history.tests.values()}
    assert got == {
        M + "test_stable": (4, 0, 0, 0),
        M + "test_flaky_once": (4, 0, 1, 0),
        # attempts 1-2, 3-4, 5-6 with --retry; attempt 7 without: a plain failure
        M + "test_always_flaky": (4, 1, 3, 0),
        M + "test_broken": (4, 4, 0, 0),
        M + "test_skipped": (0, 0, 0, 4),
        # pytest writes two <testcase> for a failure plus a teardown error: one run
        M + "test_fails_and_teardown_errs": (4, 4, 0, 0),
    }
    assert [r.test[len(M):] for r in history.ranked()] == [
        "test_always_flaky", "test_flaky_once", "test_broken", "test_fails_and_teardown_errs",
        "test_skipped", "test_stable"]
    assert history.tests[M + "test_always_flaky"].flake_rate == 0.75


def test_one_run_read_alone(history_dir):
    run = read_run(history_dir / "junit-1.xml")
    assert run is not None
    assert run[M + "test_flaky_once"] == "flaky"
    assert run[M + "test_always_flaky"] == "flaky"
    assert run[M + "test_broken"] == "failed"
    assert run[M + "test_skipped"] == "skipped"
    assert read_run(history_dir / "coverage.xml") is None


def test_cli_table_sorted_by_flake_rate(history_dir, capsys):
    assert main(["flakes", str(history_dir)]) == 0
    out = capsys.readouterr().out
    assert f"6 tests in 4 run(s) under {history_dir}: 2 flaky at least once" in out
    rows = [line for line in out.splitlines() if M in line]
    assert [r.split()[1] for r in rows] == [
        M + "test_always_flaky", M + "test_flaky_once", M + "test_broken",
        M + "test_fails_and_teardown_errs", M + "test_skipped", M + "test_stable"]
    cells = rows[0].replace("│", " ").split()
    assert cells[1:] == ["4", "1", "3", "75.0%"]  # runs, failures, flaky, flake rate


def test_cli_json(history_dir, capsys):
    assert main(["flakes", str(history_dir), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["problems"] == [] and len(data["files"]) == 4
    first = data["tests"][0]
    assert first == {"test": M + "test_always_flaky", "runs": 4, "passed": 3, "failures": 1,
                     "flaky": 3, "skipped": 0, "flake_rate": 0.75}


def test_a_malformed_file_is_named_and_the_others_are_read(history_dir, capsys):
    broken = history_dir / "junit-5.xml"
    broken.write_text('<?xml version="1.0"?><testsuites><testsuite><testcase name="x">')
    assert main(["flakes", str(history_dir), "--json"]) == 2
    captured = capsys.readouterr()
    assert f"harness: error: {broken}: not well-formed XML" in captured.err
    data = json.loads(captured.out)
    assert len(data["files"]) == 4 and data["problems"][0].startswith(str(broken))
    assert data["tests"][0]["runs"] == 4


def test_a_missing_folder_is_an_error_naming_it(tmp_path, capsys):
    missing = tmp_path / "no-results"
    assert main(["flakes", str(missing)]) == 2
    assert f"harness: error: {missing}: no such folder" in capsys.readouterr().err


def test_a_folder_without_junit_files_is_an_error(tmp_path, capsys):
    (tmp_path / "coverage.xml").write_text("<coverage/>")
    assert main(["flakes", str(tmp_path)]) == 2
    assert f"{tmp_path}: no JUnit XML file in it" in capsys.readouterr().err
