"""Limits: boundaries, marginal band, NaN, units, and the file's checks."""

import math
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.station.limits import Limit, UnitMismatch, UnknownMeasurement, load_limits

FILL = Limit(name="fill_time", low=30, high=55, unit="s", marginal=3)


@pytest.mark.parametrize("value, outcome", [
    (30.0, "marginal"), (55.0, "marginal"),  # on the boundary: inside, flagged
    (29.999, "fail"), (55.001, "fail"),
    (32.999, "marginal"), (33.0, "pass"), (52.0, "pass"), (52.001, "marginal"),
    (40, "pass"), (float("nan"), "fail"), (math.inf, "fail"), (-math.inf, "fail"),
])
def test_verdict_at_the_edges(value, outcome):
    assert FILL.judge(value, "s").outcome == outcome


def test_one_sided_limit_and_zero_band():
    lim = Limit(name="heater", high=0, unit="s")
    assert lim.judge(0, "s").outcome == "pass"
    assert lim.judge(0.001, "s").outcome == "fail"
    assert lim.judge(-5, "s").outcome == "pass"


def test_unit_mismatch_is_an_error_not_a_verdict():
    with pytest.raises(UnitMismatch, match=r"fill_time.*'ms'.*'s'"):
        FILL.judge(40_000, "ms")


@pytest.mark.parametrize("kwargs, msg", [
    ({"unit": "s"}, "needs 'low', 'high'"),
    ({"low": 5, "high": 1, "unit": "s"}, "low 5.0 > high 1.0"),
    ({"low": 0, "high": 10, "unit": "s", "marginal": 6}, "wider than half"),
    ({"low": float("nan"), "unit": "s"}, "finite"),
])
def test_bad_limits_are_refused(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        Limit(name="x", **kwargs)


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "demo.yaml"
    p.write_text(text)
    return p


def test_file_loads_with_hash_and_version(tmp_path):
    p = _write(tmp_path, "product: demo\nversion: '3'\nlimits:\n"
                         "  - {name: a, low: 1, high: 2, unit: V}\n")
    ls = load_limits(p)
    assert (ls.product, ls.version, len(ls.sha256)) == ("demo", "3", 64)
    assert ls.judge("a", 1.5, "V").passed
    with pytest.raises(UnknownMeasurement, match=r"demo.yaml: no limit named 'b'; defined: a"):
        ls.get("b")
    p.write_text(p.read_text() + "# changed\n")
    assert load_limits(p).sha256 != ls.sha256


@pytest.mark.parametrize("text, msg", [
    ("product: demo\nversion: '1'\nlimits:\n  - {name: a, hi: 2, unit: V}\n",
     r"field 'limits.0.hi': unknown field"),
    ("product: demo\nlimits:\n  - {name: a, high: 2, unit: V}\n", r"field 'version'"),
    ("product: demo\nversion: '1'\nlimits:\n  - {name: a, high: 2, unit: V}\n"
     "  - {name: a, high: 3, unit: V}\n", "defined twice"),
    ("product: demo\nversion: '1'\nlimits: [\n", "not valid YAML"),
    ("- 1\n", "expected a mapping"),
])
def test_bad_files_name_the_file_and_field(tmp_path, text, msg):
    with pytest.raises(ConfigError, match=msg) as e:
        load_limits(_write(tmp_path, text))
    assert "demo.yaml" in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml: limits file not found"):
        load_limits(tmp_path / "nope.yaml")


def test_the_washer_limits_file_is_valid():
    root = Path(__file__).resolve().parents[2]
    ls = load_limits(root / "targets/limits/qsm-washer.yaml")
    assert ls.product == "qsm-washer" and "fill_time" in ls.by_name
