"""Unit-to-unit variation of the emulated line: each serial number draws its board's analog
parts (and seeds its instruments' reading noise), so the same serial reads the same on every
run, two serials read differently, and a line of units has a spread for Cp/Cpk.

Real parts: washer chips on QEMU, the virtual instruments of the emulated bench, pytest
subprocesses under ``--serial`` and the station, SQLite record stores.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.instruments.virtual.coupling import (
    CLOCK_TOLERANCE,
    TvLoad,
    UnitSpread,
    WasherLoad,
)
from harness.station import records as R
from harness.station.limits import load_limits
from harness.station.product import load_product
from harness.station.station import Station
from harness.station.stats import capability
from tests.integration.station.test_report_html import WIDTH, _chromium

ROOT = Path(__file__).resolve().parents[3]
LINE_SHOT = ROOT / "results" / "report-line.png"
POWER = "tests/acceptance/washer/test_power.py"
LIMITS = load_limits(ROOT / "targets/limits/qsm-washer.yaml")
TV_LIMITS = load_limits(ROOT / "targets/limits/qsm-tv.yaml")

IDLE: dict = {}
WASH = {"lock": 1, "heater": 1, "motor": 1, "motor_rpm": 50}
SPIN = {"lock": 1, "pump": 1, "motor": 1, "motor_rpm": 1200}


class _TvSignals:
    """What a TvLoad asks of the chip: its spread and the standby-leak stimulus (none)."""

    def __init__(self, unit_serial: str | None) -> None:
        self.spread = UnitSpread(unit_serial)

    def stimulus(self, field: str) -> int:
        return 0


def _washer(serial: str | None) -> tuple[float, ...]:
    load = WasherLoad(UnitSpread(serial))
    return (load.current(IDLE), load.current(WASH), load.current(SPIN),
            load.speed_reference(SPIN), UnitSpread(serial).deviation("board.clock",
                                                                     CLOCK_TOLERANCE))


def test_a_serial_draws_the_same_board_every_time_within_tolerance():
    assert _washer("W2644000101") == _washer("W2644000101")
    a, b = _washer("W2644000101"), _washer("W2644000102")
    assert all(x != y for x, y in zip(a, b, strict=True)), (a, b)
    # no serial number: the nominal board, exactly
    assert _washer(None) == pytest.approx((0.045, 0.3975, 0.755, 7.5, 0.0), rel=1e-12)
    nominal_tv = TvLoad(_TvSignals(None))  # type: ignore[arg-type]
    assert (nominal_tv.current({}), nominal_tv.current({"panel": 1})) == \
        pytest.approx((0.000420, 0.380), rel=1e-12)
    # every part within its tolerance, on every board of a large line
    for i in range(300):
        spread = UnitSpread(f"W2644{i:06d}")
        load = WasherLoad(spread)
        assert abs(load.standby / WasherLoad.standby - 1) <= WasherLoad.tolerance["standby"]
        for k, amps in load.per_output.items():
            assert abs(amps / WasherLoad.per_output[k] - 1) <= WasherLoad.tolerance[k]
        assert abs(load.reference_offset) <= WasherLoad.tolerance["reference_offset"]
        assert abs(spread.deviation("board.clock", CLOCK_TOLERANCE)) <= CLOCK_TOLERANCE
        # ... so every board's currents are well inside the product's limits
        for name, amps in (("idle_current", load.current(IDLE)),
                           ("wash_current", load.current(WASH)),
                           ("spin_current", load.current(SPIN))):
            assert LIMITS.judge(name, amps * 1e3, "mA").outcome == "pass", (i, name, amps)
        assert LIMITS.judge("speed_reference_spin", load.speed_reference(SPIN),
                            "V").outcome == "pass"
        tv = TvLoad(_TvSignals(f"T2644{i:06d}"))  # type: ignore[arg-type]
        assert TV_LIMITS.judge("standby_current", tv.current({}) * 1e6, "uA").outcome == "pass"
        on = tv.current({"panel": 1, "backlight": 1, "audio": 1})
        assert TV_LIMITS.judge("on_current", on * 1e3, "mA").outcome == "pass"


def _measured(url: str) -> dict[int, tuple[str, str, dict[str, list[float]]]]:
    """Run id → (serial, outcome, {measurement name: values in the order taken})."""
    engine = R.open_store(url)
    try:
        with engine.connect() as conn:
            out = {}
            for run in R.run_rows(conn):
                rec = R.record(conn, run["id"])
                values: dict[str, list[float]] = {}
                for m in [m for s in rec["steps"] for m in s["measurements"]] + \
                        rec["run_measurements"]:
                    values.setdefault(m["name"], []).append(m["value"])
                out[run["id"]] = (run["serial"], run["outcome"], values)
            return out
    finally:
        engine.dispose()


def _unit(serial: str, url: str, results: Path) -> None:
    """One unit's power tests under its serial number, on slot 1 of the emulated bench."""
    cmd = [sys.executable, "-m", "pytest", POWER, "--target=qsm-washer", "--product=qsm-washer",
           "--slot=1", f"--serial={serial}", f"--db={url}", f"--results={results}",
           f"--rootdir={ROOT}", "-p", "no:cacheprovider", "-q",
           "-k", "idle_current or wash_current or speed_reference or cotton"]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, f"{serial}: pytest exited {res.returncode}\n{res.stdout[-3000:]}"


# the counter's duty cycle samples the pin at instants the host's scheduling decides: a
# measurement of the line's noise, not of the unit, so it does not repeat
NOT_REPEATABLE = {"frequency_output_duty"}


def test_the_same_serial_reads_the_same_and_another_serial_differs(tmp_path):
    url = f"sqlite:///{tmp_path / 'records.db'}"
    for i, serial in enumerate(["W2644000301", "W2644000301", "W2644000302"]):
        _unit(serial, url, tmp_path / f"unit{i}")
    (_, out1, a1), (_, out2, a2), (_, out3, b) = _measured(url).values()
    assert (out1, out2, out3) == ("pass", "pass", "pass")
    names = {"idle_current", "wash_current", "speed_reference_off", "speed_reference_spin",
             "cotton_spin_frequency"}
    assert names <= set(a1) and set(a1) == set(a2) == set(b)
    for name in sorted(set(a1) - NOT_REPEATABLE):
        assert a1[name] == pytest.approx(a2[name], rel=1e-6, abs=1e-9), name
        assert all(x != pytest.approx(y, rel=1e-6, abs=1e-9)
                   for x, y in zip(a1[name], b[name], strict=True)), (name, a1[name], b[name])


def test_a_line_of_25_units_has_a_spread_and_a_capability(tmp_path):
    """25 units through the 4 slots of the emulated bench, two quick tests each (no program
    runs); each instrument measurement has σ > 0 and a finite Cpk the emulated line reaches
    (≥ 1.33): the board's idle current (its parts) and the supply's voltage (its noise)."""
    serials = [f"W2644000{400 + i}" for i in range(25)]
    product = load_product("qsm-washer", ROOT / "targets").model_copy(update={"suite": [POWER]})
    station = Station(product, [1, 2, 3, 4], f"sqlite:///{tmp_path / 'harness.db'}",
                      "variation-test", "tester", tmp_path, ROOT / "targets/benches/emulated.yaml",
                      extra_args=["-k", "nominal_voltage or idle_current"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_LEASE_DIR", str(tmp_path / "leases"))  # slots of its own
        summary = station.run(serials)
    assert [r.outcome for r in summary.results] == ["pass"] * 25, \
        [(r.serial, r.reason) for r in summary.results if r.outcome != "pass"]
    runs = _measured(f"sqlite:///{tmp_path / 'harness.db'}").values()
    assert sorted(serial for serial, _, _ in runs) == serials
    for name in ("supply_voltage", "idle_current"):
        values = [m[name][-1] for _, _, m in runs]  # one value per unit
        limit = LIMITS.get(name)
        cap = capability(values, limit.low, limit.high)
        assert cap is not None and cap.n == 25, (name, values)
        assert cap.stdev > 0 and cap.cpk is not None and math.isfinite(cap.cpk), (name, cap)
        assert cap.cpk >= 1.33, (name, cap)
    idle = [m["idle_current"][0] for _, _, m in runs]
    assert len({round(v, 3) for v in idle}) >= 20  # 25 boards, not one board read 25 times
    # the line's report, as a quality engineer opens it: a capability from 25 boards, no
    # "too few units", seen in Chromium at 1280 px (results/report-line.png)
    html = tmp_path / "report.html"
    res = subprocess.run([sys.executable, "-m", "harness", "report",
                          f"--db=sqlite:///{tmp_path / 'harness.db'}", f"--out={html}"],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    row = re.search(r"<td>idle_current</td>.*?</tr>", html.read_text(), re.S)
    assert row and "<td>25</td>" in row.group(0) and "too few" not in row.group(0), row
    LINE_SHOT.parent.mkdir(parents=True, exist_ok=True)
    LINE_SHOT.unlink(missing_ok=True)
    shot = _chromium(tmp_path, html, f"--window-size={WIDTH},1400", f"--screenshot={LINE_SHOT}")
    assert shot.returncode == 0 and LINE_SHOT.stat().st_size > 0, shot.stderr[-2000:]
