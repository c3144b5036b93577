"""Supply current, motor speed reference and frequency output of the washer board, measured
with the slot's instruments (virtual ones on the emulated bench, coupled to the running chip).

Programs run at 100 program-ms per tick (slow enough to catch a state) and program time is
frozen (``stimulus.time_scale = 0``) once the state under test is reached, so the outputs hold
while the instruments integrate.
"""

import math
import statistics

import pytest

from .conftest import Washer

pytestmark = [pytest.mark.targets("qsm-washer"), pytest.mark.requires("symbols")]

STANDBY_A = (0.035, 0.055)   # MCU + regulators, every output off
WASH_A = (0.36, 0.44)        # lock + heater + motor at wash speed
SPIN_A = (0.70, 0.82)        # lock + pump + motor at 1200 rpm
SUPPLY_V = (11.95, 12.05)


def settled(read, what: str, n: int = 5, tol: float = 0.02, floor: float = 0.001) -> float:
    """Median of the first ``n`` consecutive readings that agree within ``tol`` (+ ``floor``)."""
    seen: list[float] = []
    for _ in range(200):
        seen.append(read())
        last = seen[-n:]
        mid = statistics.median(last)
        if len(last) == n and max(last) - min(last) <= tol * abs(mid) + floor:
            return mid
    pytest.fail(f"{what} never settled; last readings {seen[-n:]}")


def hold(washer: Washer, state: str, program: str = "cotton") -> dict:
    washer.stimulus(time_scale=100)
    mark = washer.start(program)
    washer.wait_state(state, since=mark, timeout=10.0)
    washer.stimulus(time_scale=0)
    out = washer.outputs
    assert washer.status()["state"] == state
    return out


def test_supply_is_on_at_nominal_voltage_while_the_chip_runs(washer, psu):
    assert psu.output_on
    assert SUPPLY_V[0] <= psu.voltage() <= SUPPLY_V[1]


def test_idle_current_within_limits(washer, psu):
    assert washer.status()["state"] == "IDLE"
    amps = settled(psu.current, "idle current")
    assert STANDBY_A[0] <= amps <= STANDBY_A[1], f"idle current {amps * 1000:.1f} mA"


def test_wash_current_motor_and_heater(washer, psu):
    out = hold(washer, "WASH")
    assert (out["motor"], out["heater"]) == (1, 1)
    amps = settled(psu.current, "wash current")
    assert WASH_A[0] <= amps <= WASH_A[1], f"wash current {amps * 1000:.1f} mA"


def test_spin_current_within_limits(washer, psu):
    out = hold(washer, "SPIN")
    assert out["motor_rpm"] == 1200
    amps = settled(psu.current, "spin current")
    assert SPIN_A[0] <= amps <= SPIN_A[1], f"spin current {amps * 1000:.1f} mA"
    assert SUPPLY_V[0] <= psu.voltage() <= SUPPLY_V[1]


@pytest.mark.parametrize("program, state, hz", [
    ("cotton", "SPIN", 1200), ("wool", "SPIN", 600), ("quick", "WASH", 50),
])
def test_motor_frequency_output_measured_by_counter(washer, counter, program, state, hz):
    out = hold(washer, state, program)
    assert out["motor"] == 1 and out["motor_rpm"] == hz
    gate = 1.0 if hz < 100 else 0.2
    f = counter.frequency(1, gate=gate)
    assert f == pytest.approx(hz, rel=0.03), f"{f:.2f} Hz at {out['motor_rpm']} rpm"
    assert counter.period(1, gate=gate) == pytest.approx(1 / hz, rel=0.03)
    assert counter.duty_cycle(1) == pytest.approx(0.5, abs=0.2)


def test_no_frequency_output_while_the_motor_is_off(washer, counter):
    assert washer.outputs["motor"] == 0
    assert math.isnan(counter.frequency(1, gate=0.05))


def test_speed_reference_voltage_follows_motor(washer, dmm):
    assert abs(dmm.dc_voltage(range_=10, nplc=1)) < 0.01
    hold(washer, "SPIN")
    volts = settled(lambda: dmm.dc_voltage(range_=10, nplc=1), "speed reference")
    assert volts == pytest.approx(7.5, rel=0.01)  # 1200 of 1600 rpm full scale, 0-10 V
