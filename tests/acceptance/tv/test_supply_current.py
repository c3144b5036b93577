"""The TV board's supply current, measured with the slot's instruments (virtual ones on the
emulated bench, coupled to the running chip): the standby budget, a standby-rail leak, and the
current with the panel on."""

import pytest

pytestmark = [pytest.mark.targets("qsm-tv"), pytest.mark.requires("symbols")]

BUDGET_A = 500e-6  # the standby budget (firmware/README.md, QSM-T)


def standby_current(dmm) -> float:
    readings = [dmm.dc_current(range_=1e-3, nplc=10) for _ in range(5)]
    return sorted(readings)[2]


def test_standby_current_is_below_the_budget(tv, dmm, psu):
    assert tv.status()["power"] == "STANDBY"
    assert psu.output_on and psu.voltage() == pytest.approx(12.0, abs=0.05)
    amps = standby_current(dmm)
    assert 300e-6 < amps < BUDGET_A, f"standby current {amps * 1e6:.0f} uA"
    assert tv.outputs["standby_over_budget"] == 0


def test_a_standby_rail_leak_is_measured_and_flagged(tv, dmm):
    mark = tv.dut.console.mark()
    tv.dut.symbols["stimulus.standby_leak_ua"] = 200
    tv.dut.console.expect(r"^EVT standby_budget exceeded supply_ua=(\d+)$", since=mark)
    amps = standby_current(dmm)
    assert amps > BUDGET_A, f"a 200 uA leak reads {amps * 1e6:.0f} uA"
    assert amps == pytest.approx(620e-6, rel=0.05)
    assert tv.outputs["standby_over_budget"] == 1


def test_panel_on_draws_its_rails(tv, psu):
    tv.power_on()
    amps = sorted(psu.current() for _ in range(9))[4]
    assert 0.55 < amps < 0.72, f"{amps:.3f} A with panel, backlight and audio on"
