"""The plugin's option and marker handling, driven through an inner pytest (no emulator)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _project(pytester):
    pytester.makeini(f"""
        [pytest]
        harness_targets_dir = {ROOT / 'targets'}
        harness_bench = {ROOT / 'targets' / 'benches' / 'emulated.yaml'}
    """)


def test_unknown_target_is_a_usage_error_listing_known(pytester):
    _project(pytester)
    pytester.makepyfile("def test_x(target): pass")
    result = pytester.runpytest("--target", "qsm-dryer")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*unknown target 'qsm-dryer'*known targets:*qsm-washer*"])


def test_target_fixture_is_parametrized_and_filtered_by_marker(pytester):
    _project(pytester)
    pytester.makepyfile("""
        import pytest

        def test_any(target, harness_settings):
            assert target.name in harness_settings.known_targets

        @pytest.mark.targets("qsm-washer")
        def test_washer_only(target):
            assert target.name == "qsm-washer"

        @pytest.mark.targets("qsm-nothing")
        def test_none(target):
            pass
    """)
    result = pytester.runpytest("-v", "-rs")
    result.assert_outcomes(passed=2 + (len(list((ROOT / 'targets').glob('*.yaml'))) - 1),
                           skipped=1)
    result.stdout.fnmatch_lines(["*test_washer_only?qsm-washer? PASSED*",
                                 "*no selected target matches @targets(qsm-nothing)*"])


def test_requires_skips_with_reason_and_rejects_unknown_capability(pytester):
    _project(pytester)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.requires("memory", "console")
        def test_ok():
            pass

        @pytest.mark.requires("teleport")
        def test_bad():
            pass
    """)
    result = pytester.runpytest("-v")
    result.stdout.fnmatch_lines(["*test_ok PASSED*"])
    assert "unknown capability ['teleport']" in result.stdout.str() + result.stderr.str()


def test_harness_error_in_call_is_reported_as_error(pytester):
    _project(pytester)
    pytester.makepyfile("""
        from harness.errors import DutLost, DutFailure

        def test_tool_broke():
            raise DutLost("qemu died")

        def test_chip_wrong():
            raise DutFailure("wrong answer")
    """)
    result = pytester.runpytest("--summary", "--junitxml=j.xml")
    result.stdout.fnmatch_lines(["*1 failed*1 error*"])
    result.stdout.fnmatch_lines(["*test_chip_wrong*FAILED*", "*test_tool_broke*ERROR*"])
    xml = (pytester.path / "j.xml").read_text()
    assert 'name="harness_outcome" value="error"' in xml


def test_summary_table_keeps_parameter_ids_and_durations(pytester):
    _project(pytester)
    pytester.makepyfile("""
        import pytest, time

        @pytest.mark.parametrize("n", ["[a]", 2])
        def test_p(n):
            time.sleep(0.02)
    """)
    result = pytester.runpytest("--summary")
    out = result.stdout.str()
    assert "test_p[[a]]" in out and "test_p[2]" in out
    assert "2 tests: 2 passed" in out
    assert out.index("test_p[2]") < out.index("test_p[[a]]")  # sorted by test id
    assert result.ret == 0


def test_summary_names_tests_relative_to_their_common_folder():
    from harness.report import summary_table

    rows = [["tests/acceptance/tv/test_a.py::test_x[tv]", "passed", 0.1, "qsm-tv"],
            ["tests/acceptance/auto/test_b.py::test_y", "failed", 0.2, "qsm-auto"]]
    out = summary_table(rows, 1.0, Path("results"))
    assert "results (tests/acceptance/)" in out
    assert "│ auto/test_b.py::test_y " in out and "│ tv/test_a.py::test_x[tv] " in out
    assert out.index("auto/test_b.py") < out.index("tv/test_a.py")
    one_file = summary_table(rows[:1], 1.0, Path("results"))
    assert "(tests/acceptance/tv/)" in one_file and "│ test_a.py::test_x[tv]" in one_file


def test_no_summary_without_the_option(pytester):
    _project(pytester)
    pytester.makepyfile("def test_a(): pass")
    assert "QSM Harness — results" not in pytester.runpytest().stdout.str()
