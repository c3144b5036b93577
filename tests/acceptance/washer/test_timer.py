"""The washer's frequency output as its timer registers show it, by name from the SVD named in
targets/qsm-washer.yaml (``dut.regs``), read through the debug port."""

import pytest

from .test_power import hold

pytestmark = [pytest.mark.targets("qsm-washer"), pytest.mark.requires("symbols")]

CORE_HZ = 12_500_000


@pytest.mark.parametrize("program, state, hz", [("cotton", "SPIN", 1200), ("quick", "WASH", 50)])
def test_motor_speed_programs_timer0_for_its_frequency(washer, dut, program, state, hz):
    out = hold(washer, state, program)
    assert out["motor_rpm"] == hz
    t = dut.regs.TIMER0
    assert t.CFG.CFG == 0 and t.TAMR.TAMR == 2              # one 32-bit periodic timer
    assert t.CTL.TAEN == 1 and t.IMR.TATOIM == 1            # running, time-out interrupt on
    assert t.TAILR.read() == CORE_HZ // (2 * hz) - 1        # one half period per time-out


def test_timer0_stops_with_the_motor(washer, dut):
    assert washer.status()["state"] == "IDLE"
    assert dut.regs.TIMER0.CTL.TAEN == 0
    assert all(dut.regs[f"TIMER{n}"].CTL.read() == 0 for n in (1, 2, 3))  # never used
