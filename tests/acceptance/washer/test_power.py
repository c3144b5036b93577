"""Supply current, motor speed reference and frequency output of the washer board, measured
with the slot's instruments (virtual ones on the emulated bench, coupled to the running chip)
and judged by ``measure`` against the product's limits (``targets/limits/qsm-washer.yaml``):
run under a station (``--serial``), each reading is recorded and goes into Cp/Cpk.

Programs run at 100 program-ms per tick (slow enough to catch a state) and program time is
frozen (``stimulus.time_scale = 0``) once the state under test is reached, so the outputs hold
while the instruments integrate.
"""

import math
import statistics
import time

import pytest

from .conftest import Washer

pytestmark = [pytest.mark.targets("qsm-washer"), pytest.mark.requires("symbols")]

# The board's input capacitance and regulators settle within ~50 ms of a change of its load:
# readings are taken after this dwell, as a test program on a real bench does.
DWELL_S = 0.15
GATE_S = 0.2  # the counter's gate for the motor's frequency output


def steady(read, what: str, n: int = 5, tol: float = 0.02, floor: float = 0.001) -> float:
    """Mean of the first ``n`` consecutive readings, after the dwell, that agree within ``tol``
    (relative) + ``floor``: the load's steady value, with the reading noise averaged."""
    time.sleep(DWELL_S)
    seen: list[float] = []
    for _ in range(200):
        seen.append(read())
        last = seen[-n:]
        mid = statistics.median(last)
        if len(last) == n and max(last) - min(last) <= tol * abs(mid) + floor:
            return statistics.fmean(last)
    pytest.fail(f"{what} never settled; last readings {seen[-n:]}")


def hold(washer: Washer, state: str, program: str = "cotton") -> dict:
    washer.freeze_in(state, program)
    out = washer.outputs
    assert washer.status()["state"] == state
    return out


def test_supply_is_on_at_nominal_voltage_while_the_chip_runs(washer, psu, measure):
    assert psu.output_on
    measure("supply_voltage", steady(psu.voltage, "supply voltage"), "V")


def test_idle_current_within_limits(washer, psu, measure):
    assert washer.status()["state"] == "IDLE"
    measure("idle_current", steady(psu.current, "idle current") * 1e3, "mA")


def test_wash_current_motor_and_heater(washer, psu, measure):
    out = hold(washer, "WASH")
    assert (out["motor"], out["heater"]) == (1, 1)
    measure("wash_current", steady(psu.current, "wash current") * 1e3, "mA")


def test_spin_current_within_limits(washer, psu, measure):
    out = hold(washer, "SPIN")
    assert out["motor_rpm"] == 1200
    measure("spin_current", steady(psu.current, "spin current") * 1e3, "mA", stop=False)
    measure("supply_voltage", steady(psu.voltage, "supply voltage under load"), "V")


@pytest.mark.parametrize("program, state, hz", [
    ("cotton", "SPIN", 1200), ("wool", "SPIN", 600), ("quick", "WASH", 50),
])
def test_motor_frequency_output_measured_by_counter(washer, counter, measure, program, state,
                                                    hz):
    out = hold(washer, state, program)
    assert out["motor"] == 1 and out["motor_rpm"] == hz
    # a reciprocal counter times whole periods: 10 of the slowest (50 Hz) fill the gate
    f = counter.frequency(1, gate=GATE_S)
    measure(f"{program}_{state.lower()}_frequency", f, "Hz", stop=False)
    assert counter.period(1, gate=GATE_S) == pytest.approx(1 / f, rel=1e-3)
    measure("frequency_output_duty", counter.duty_cycle(1) * 100, "%")


def test_no_frequency_output_while_the_motor_is_off(washer, counter):
    assert washer.outputs["motor"] == 0
    assert math.isnan(counter.frequency(1, gate=0.05))


def test_speed_reference_voltage_follows_motor(washer, dmm, measure):
    def volts() -> float:
        return dmm.dc_voltage(range_=10, nplc=1)

    measure("speed_reference_off", steady(volts, "speed reference, motor off"), "V", stop=False)
    hold(washer, "SPIN")  # 1200 of 1600 rpm full scale
    measure("speed_reference_spin", steady(volts, "speed reference at spin"), "V")
