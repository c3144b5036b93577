"""The TV board's supply current, measured with the slot's instruments (virtual ones on the
emulated bench, coupled to the running chip) and judged by ``measure`` against the product's
limits (``targets/limits/qsm-tv.yaml``): the standby budget, a standby-rail leak, and the
current with the panel on. Run under a station (``--serial``), each reading is recorded."""

import statistics
import time

import pytest

pytestmark = [pytest.mark.targets("qsm-tv"), pytest.mark.requires("symbols")]

LEAK_UA = 200  # the standby-rail leak the leak test injects
# The board's input capacitance and regulators settle within ~50 ms of a change of its load:
# supply readings are taken after this dwell, as a test program on a real bench does.
DWELL_S = 0.15


def standby_current(dmm) -> float:
    """Median of five 10-PLC readings on the 1 mA range (A)."""
    return statistics.median(dmm.dc_current(range_=1e-3, nplc=10) for _ in range(5))


def test_standby_current_is_below_the_budget(tv, dmm, psu, measure):
    assert tv.status()["power"] == "STANDBY"
    assert psu.output_on
    measure("supply_voltage", statistics.fmean(psu.voltage() for _ in range(5)), "V",
            stop=False)
    measure("standby_current", standby_current(dmm) * 1e6, "uA")
    assert tv.outputs["standby_over_budget"] == 0


def test_a_standby_rail_leak_is_measured_and_flagged(tv, dmm, measure):
    baseline = standby_current(dmm)  # this board's own standby current
    mark = tv.dut.console.mark()
    tv.dut.symbols["stimulus.standby_leak_ua"] = LEAK_UA
    tv.dut.console.expect(r"^EVT standby_budget exceeded supply_ua=(\d+)$", since=mark)
    amps = standby_current(dmm)
    budget_ua = measure.limits.get("standby_current").high
    assert amps * 1e6 > budget_ua, f"a {LEAK_UA} uA leak reads {amps * 1e6:.0f} uA"
    assert (amps - baseline) * 1e6 == pytest.approx(LEAK_UA, rel=0.05)
    assert tv.outputs["standby_over_budget"] == 1


def test_panel_on_draws_its_rails(tv, psu, measure):
    tv.power_on()
    time.sleep(DWELL_S)
    amps = statistics.median(psu.current() for _ in range(9))
    measure("on_current", amps * 1e3, "mA")
