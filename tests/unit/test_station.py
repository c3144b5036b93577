"""Station pieces without an emulator: serial numbers, unit directories, commands, Cp/Cpk,
the product config, the summary, and the measure fixture in an inner pytest."""

import math
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.station import serials
from harness.station.product import load_product
from harness.station.station import Station, Summary, UnitResult
from harness.station.stats import MIN_UNITS, capability, first_outcomes, first_pass_yield

ROOT = Path(__file__).resolve().parents[2]
PATTERN = load_product("qsm-washer", ROOT / "targets").serial_pattern
HOSTILE = ["'; DROP TABLE runs;--", "../../etc/passwd", "$(reboot)", "A" * 10_000,
           b"W26\xff44000001".decode("utf-8", "surrogateescape"), "W2644000001\n",
           "-W2644000001", "W2644000001 --db=x", "", ".."]


@pytest.mark.parametrize("sn", HOSTILE)
def test_hostile_serial_numbers_are_refused_by_the_pattern(sn):
    assert serials.check(sn, PATTERN) is not None


def test_good_serial_numbers_pass_and_duplicates_are_refused():
    ok, bad = serials.split(["W2644000001", "W2601999999", "W2644000001", "W2654000001"],
                            PATTERN)
    assert ok == ["W2644000001", "W2601999999"]
    assert [(b.raw, b.reason.split()[0]) for b in bad] == [("W2644000001", "listed"),
                                                           ("W2654000001", "does")]


def test_non_utf8_reason_and_scanner_lines():
    import io

    raw = io.BytesIO(b"W2644000001\r\n\n  W2644000002 \nW26\xff\n")
    lines = list(serials.read_lines(raw))
    assert lines[:2] == ["W2644000001", "W2644000002"]
    assert serials.check(lines[2], ".*") == "not valid UTF-8"


@pytest.mark.parametrize("sn", HOSTILE + ["W2644000001"])
def test_unit_directory_names_are_sanitized_and_distinct(sn):
    name = serials.dir_name(sn)
    assert "/" not in name and name not in (".", "..") and len(name) <= 51
    assert set(name) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
    assert serials.dir_name(sn + "x") != name


def test_shown_escapes_control_characters_and_truncates():
    assert serials.shown("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert len(serials.shown("A" * 10_000)) == 40


def test_serial_travels_as_one_argv_element(tmp_path):
    product = load_product("qsm-washer", ROOT / "targets")
    st = Station(product, [1], "sqlite:///x.db", "st", "op", tmp_path)
    for sn in ["$(reboot)", "-x --db=evil", "a b"]:
        cmd = st.command(sn, 1, tmp_path)
        assert f"--serial={sn}" in cmd
        assert not any(sn in c for c in cmd if not c.startswith("--serial="))


def test_product_config_errors_name_the_file(tmp_path):
    (tmp_path / "products").mkdir()
    (tmp_path / "products" / "p.yaml").write_text(
        "name: p\npart_number: X\ntarget: t\nserial_pattern: '['\nsuite: [a]\nlimits: l.yaml\n")
    with pytest.raises(ConfigError, match=r"p.yaml: invalid product config:\n  field "
                                          r"'serial_pattern'"):
        load_product("p", tmp_path)
    with pytest.raises(ConfigError, match="known products: p"):
        load_product("q", tmp_path)
    with pytest.raises(ConfigError, match="expected lower-case"):
        load_product("../p", tmp_path)


def test_capability():
    cap = capability([40, 41, 39, 40, 40.5, 39.5], 30, 55)
    sigma = cap.stdev
    assert cap.cp == pytest.approx(25 / (6 * sigma))
    assert cap.cpk == pytest.approx((40 - 30) / (3 * sigma))
    assert cap.few and "too few units (n = 6 < 25)" in cap.note
    assert capability([1.0], 0, 2) is None
    assert capability([1, 2, float("nan")], None, 5).cp is None


def test_capability_without_spread_is_not_a_number_and_never_infinite():
    for values, low, high in [([1.0, 1.0], 0, 2), ([3.0, 3.0], 0, 2), ([1.0] * 30, None, 2)]:
        cap = capability(values, low, high)
        assert cap.cp is None and cap.cpk is None and cap.no_spread
        assert cap.note.startswith("no spread (σ = 0)")
    assert "every value outside the limits" in capability([3.0, 3.0], 0, 2).note
    many = capability([40 + (i % 5) * 0.1 for i in range(MIN_UNITS)], 30, 55)
    assert not many.few and many.note == "" and math.isfinite(many.cpk)


def test_first_pass_yield_counts_an_aborted_first_attempt():
    runs = [("a", 1, "pass"), ("b", 2, None), ("b", 3, "pass"), ("c", 4, "aborted (lost)"),
            ("c", 5, "pass"), ("d", 7, "pass"), ("d", 6, "fail")]
    first = first_outcomes(runs)
    assert first == {"a": "pass", "b": "aborted", "c": "aborted (lost)", "d": "fail"}
    assert first_pass_yield(first) == (1, 4)


def _r(sn, attempt, outcome):
    return UnitResult(sn, 1, attempt, outcome, 1.0, Path("."), 0)


def test_summary_yield_counts_first_attempts_and_keeps_errors_apart():
    s = Summary([_r("a", 1, "pass"), _r("b", 1, "error"), _r("b", 2, "pass"),
                 _r("c", 1, "fail")], [], 3600.0)
    assert (s.units, s.count("pass"), s.count("fail"), s.count("error")) == (3, 2, 1, 0)
    assert s.first_pass_yield == pytest.approx(1 / 3) and s.units_per_hour == 3
    assert s.exit_code == 1
    assert Summary([_r("a", 1, "error")], [], 1).exit_code == 2


def test_summary_yield_counts_the_first_run_in_the_records():
    """A unit that passes here was aborted in an earlier station run: not first-pass."""
    results = [_r("a", 1, "pass"), _r("b", 1, "pass")]
    assert Summary(results, [], 1).first_pass_yield == 1.0
    s = Summary(results, [], 1, first={"a": "aborted", "b": "pass"})
    assert s.first_pass_yield == 0.5


def test_a_stopped_summary_is_not_a_clean_run():
    s = Summary([_r("a", 1, "pass")], [], 1, stopped="SIGTERM from the operator",
                untested=["b"])
    assert s.exit_code == 2
    from harness.station.cli import format_summary

    assert "stopped: SIGTERM from the operator; not tested: 1 (b)" in format_summary(s)


LIMITS = "product: demo\nversion: '1'\nlimits:\n  - {name: v, low: 1, high: 2, unit: V}\n"


def test_measure_fails_the_test_without_an_assert(pytester):
    pytester.makefile(".yaml", limits=LIMITS)
    pytester.makepyfile("""
        def test_in(measure):
            assert measure("v", 1.5, "V").outcome == "pass"
        def test_out(measure):
            measure("v", 2.5, "V")
            raise SystemExit("not reached: measure stops the test")
        def test_soft(measure):
            measure("v", 0.5, "V", stop=False)
            measure("v", 9.0, "V", stop=False)
            measure("v", 1.5, "V")
        def test_unit(measure):
            measure("v", 1500, "mV")
        def test_nan(measure):
            measure("v", float("nan"), "V")
    """)
    res = pytester.runpytest("-p", "no:harness-instruments", "-p", "no:harness-rtl",
                             "--limits=limits.yaml", "-rA")
    res.stdout.fnmatch_lines(["ERROR *::test_unit*"])
    res.assert_outcomes(passed=1, failed=3, errors=1)  # a unit mismatch is an error
    for line in ["*v = 2.5 V: FAIL (limits 1..2 V*", "*v = 0.5 V: FAIL*", "*v = 9 V: FAIL*",
                 "*UnitMismatch*'mV'*'V'*", "*v = nan V: FAIL*"]:
        res.stdout.fnmatch_lines([line])
