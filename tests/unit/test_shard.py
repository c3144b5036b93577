"""--shard K/N through an inner pytest (no emulator): N jobs run every test exactly once."""

import hashlib
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from harness import shard

ROOT = Path(__file__).resolve().parents[2]

# several modules, parametrized tests, a class: 27 tests
MODULES = {
    "test_alpha": """
        import pytest

        @pytest.mark.parametrize("x", range(8))
        def test_param(x):
            pass

        def test_plain():
            pass
    """,
    "test_beta": """
        import pytest

        class TestGroup:
            @pytest.mark.parametrize("word", ["a", "b", "c", "d"])
            def test_word(self, word):
                pass

            def test_method(self):
                pass

        @pytest.mark.slow
        def test_marked():
            pass
    """,
    "test_gamma": """
        import pytest

        @pytest.mark.parametrize("a", [1, 2, 3])
        @pytest.mark.parametrize("b", ["x", "y"])
        def test_grid(a, b):
            pass

        def test_one():
            pass

        def test_two():
            pass
    """,
    "test_delta": """
        def test_d1():
            pass

        def test_d2():
            pass

        def test_d3():
            pass

        def test_d4():
            pass
    """,
}
TOTAL = 27


def _project(pytester, modules=None, ini=""):
    pytester.makeini(f"""
        [pytest]
        harness_targets_dir = {ROOT / 'targets'}
        harness_bench = {ROOT / 'targets' / 'benches' / 'emulated.yaml'}
        markers = slow: a slow test
        {ini}
    """)
    modules = MODULES if modules is None else modules
    if modules:
        pytester.makepyfile(**modules)


def _passed(reprec):
    ids = [r.nodeid for r in reprec.getreports("pytest_runtest_logreport")
           if r.when == "call" and r.passed]
    assert len(ids) == len(set(ids))
    return set(ids)


def _deselected(reprec):
    return {item.nodeid for call in reprec.getcalls("pytest_deselected") for item in call.items}


def _all(pytester, *args):
    reprec = pytester.inline_run("-p", "no:cacheprovider", *args)
    assert reprec.ret == 0
    ids = _passed(reprec)
    return ids


def _check_partition(jobs, everything):
    union = set().union(*jobs)
    assert union == everything, f"not run: {everything - union}; extra: {union - everything}"
    for i, a in enumerate(jobs):
        for b in jobs[i + 1:]:
            assert not a & b, f"run twice: {a & b}"
    assert sum(map(len, jobs)) == len(everything)


@pytest.mark.parametrize("n", [3, 4])
def test_n_jobs_run_every_test_exactly_once(pytester, n):
    _project(pytester)
    everything = _all(pytester)
    assert len(everything) == TOTAL
    jobs = []
    for k in range(1, n + 1):
        reprec = pytester.inline_run("-p", "no:cacheprovider", "--shard", f"{k}/{n}")
        ids = _passed(reprec)
        assert ids == {i for i in everything if shard.index(i, n) == k - 1}
        assert _deselected(reprec) == everything - ids  # reported, so the summary counts them
        jobs.append(ids)
    _check_partition(jobs, everything)
    assert all(jobs), "27 tests over at most 4 jobs: none is empty"
    # a parametrized test is split by its full id: its cases do not all share one job
    grid = [{i for i in ids if "::test_grid[" in i or "::test_param[" in i} for ids in jobs]
    assert sum(1 for g in grid if g) > 1


def test_the_header_line_and_the_deselected_count(pytester):
    _project(pytester)
    kept = sum(1 for i in _all(pytester) if shard.index(i, 4) == 1)
    result = pytester.runpytest("-p", "no:cacheprovider", "--shard", "2/4")
    result.stdout.fnmatch_lines([f"harness: shard 2/4: {kept} of {TOTAL} tests",
                                 f"*{kept} passed, {TOTAL - kept} deselected*"])
    assert result.ret == 0


def test_the_assignment_ignores_collection_order(pytester):
    _project(pytester)
    files = [f"{name}.py" for name in MODULES]
    for k in (1, 2, 3):
        forward = _all(pytester, "--shard", f"{k}/3", *files)
        backward = _all(pytester, "--shard", f"{k}/3", *reversed(files))
        assert forward == backward and forward


def test_the_assignment_is_a_function_of_the_id_alone():
    ids = [f"tests/test_{m}.py::test_{t}[{p}]" for m in range(5) for t in range(5)
           for p in range(4)]
    before = {i: shard.index(i, 4) for i in ids}
    random.Random(7).shuffle(ids)
    assert {i: shard.index(i, 4) for i in ids} == before
    assert {i: shard.index(i, 4) for i in ids[:17]} == {i: before[i] for i in ids[:17]}
    # sha256 of the UTF-8 node id, as an integer, modulo N
    some = "tests/unit/test_x.py::test_y[a-1]"
    assert shard.index(some, 7) == int(hashlib.sha256(some.encode()).hexdigest(), 16) % 7
    assert shard.index(some, 1) == 0
    # by module: the file part of the id decides
    assert shard.key(some, "module") == "tests/unit/test_x.py"
    assert len({shard.index(f"tests/test_m.py::test_{t}", 5, "module") for t in range(20)}) == 1


def test_the_assignment_is_the_same_in_another_process():
    ids = [f"tests/test_{m}.py::test_{t}" for m in range(4) for t in range(10)]
    here = [shard.index(i, 3) for i in ids]
    code = ("import sys; from harness import shard; "
            "print(','.join(str(shard.index(i, 3)) for i in sys.argv[1:]))")
    for seed in ("1", "2"):  # a different str hash() each time: it must not matter
        out = subprocess.run([sys.executable, "-c", code, *ids], check=True, text=True,
                             capture_output=True, cwd=ROOT,
                             env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        assert [int(x) for x in out.strip().split(",")] == here


def test_by_module_keeps_a_file_in_one_job(pytester):
    _project(pytester)
    everything = _all(pytester)
    jobs = [_all(pytester, "--shard", f"{k}/3", "--shard-by", "module") if
            any(shard.index(f"{m}.py", 3, "module") == k - 1 for m in MODULES)
            else set() for k in (1, 2, 3)]
    _check_partition(jobs, everything)
    for ids in jobs:
        files = {i.split("::")[0] for i in ids}
        assert ids == {i for i in everything if i.split("::")[0] in files}


def test_k_and_m_select_first_the_shard_splits_the_rest(pytester):
    _project(pytester)
    selection = _all(pytester, "-k", "not test_d", "-m", "not slow")
    assert len(selection) == TOTAL - 5
    jobs = [_all(pytester, "-k", "not test_d", "-m", "not slow", "--shard", f"{k}/3")
            for k in (1, 2, 3)]
    _check_partition(jobs, selection)
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "not test_d", "-m", "not slow",
                                "--shard", "1/3")
    result.stdout.fnmatch_lines([f"harness: shard 1/3: {len(jobs[0])} of {TOTAL - 5} tests"])


def test_the_ini_key_and_the_option_winning_over_it(pytester):
    _project(pytester, ini="harness_shard = 1/3")
    everything = _all(pytester, "--shard", "1/1")
    assert len(everything) == TOTAL
    from_ini = _all(pytester)
    assert from_ini == {i for i in everything if shard.index(i, 3) == 0}
    assert _all(pytester, "--shard", "3/3") == {i for i in everything if shard.index(i, 3) == 2}


def test_with_xdist_workers_the_jobs_still_partition(pytester):
    _project(pytester)
    everything = _all(pytester)
    jobs = []
    for k in (1, 2, 3):
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "-v",
                                               "--shard", f"{k}/3")
        assert result.ret == 0
        ids = {line.split(" PASSED ")[1].split()[0] for line in result.outlines
               if line.startswith("[gw") and " PASSED " in line}
        assert ids == {i for i in everything if shard.index(i, 3) == k - 1}
        result.stdout.fnmatch_lines([f"harness: shard {k}/3: {len(ids)} of {TOTAL} tests"])
        jobs.append(ids)
    _check_partition(jobs, everything)


def _empty_job(pytester, n=2):
    pytester.makepyfile(test_lonely="def test_only():\n    pass\n")
    job = shard.index("test_lonely.py::test_only", n)
    return n - job  # the 1-based K of the other job, which gets nothing (n == 2)


def test_a_job_with_no_tests_exits_5(pytester):
    _project(pytester, modules={})
    empty = _empty_job(pytester)
    result = pytester.runpytest("-p", "no:cacheprovider", "--shard", f"{empty}/2")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.stdout.fnmatch_lines([f"harness: shard {empty}/2: 0 of 1 tests",
                                 "*1 deselected*"])
    other = 3 - empty
    result = pytester.runpytest("-p", "no:cacheprovider", "--shard", f"{other}/2")
    assert result.ret == 0
    result.assert_outcomes(passed=1)


def test_a_job_with_no_tests_exits_5_under_xdist(pytester):
    _project(pytester, modules={})
    empty = _empty_job(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2",
                                           "--shard", f"{empty}/2")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.stdout.fnmatch_lines([f"harness: shard {empty}/2: 0 of 1 tests"])


@pytest.mark.parametrize("value", ["0/3", "4/3", "a/b", "1/0", "3", "", "-1/3", "1/3/5"])
def test_bad_values_are_usage_errors(pytester, value):
    _project(pytester, modules={"test_x": "def test_x():\n    pass\n"})
    result = pytester.runpytest("-p", "no:cacheprovider", f"--shard={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --shard {value!r}: expected K/N*1 <= K <= N*"])


def test_bad_ini_values_are_usage_errors(pytester):
    _project(pytester, modules={"test_x": "def test_x():\n    pass\n"}, ini="harness_shard = 5/4")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: ini harness_shard = '5/4': expected K/N*"])
    _project(pytester, modules={}, ini="harness_shard = 1/2\n        harness_shard_by = file")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: ini harness_shard_by = 'file': expected one of test, "
                                 "module"])
    result = pytester.runpytest("-p", "no:cacheprovider", "--shard-by", "file")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--shard-by: invalid choice: 'file'*"])


def test_without_shard_nothing_changes(pytester):
    _project(pytester)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=TOTAL)
    assert "harness: shard" not in result.stdout.str()
    assert "deselected" not in result.stdout.str()
