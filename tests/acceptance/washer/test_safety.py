"""Door interlock and faults: every fault drives the safe state."""

import pytest

from harness import chiptime
from harness.errors import CommandError
from harness.testing.calls import run_to_call

from .conftest import SAFE_WATER

pytestmark = [pytest.mark.targets("qsm-washer"), pytest.mark.requires("symbols")]

SAFE_OUTPUTS = {"motor": 0, "valve": 0, "heater": 0}


def _err(dut, cmd):
    with pytest.raises(CommandError) as e:
        dut.command(cmd)
    return e.value.code, e.value.text


def test_program_cannot_start_with_door_open(washer):
    washer.stimulus(door_closed=0)
    assert _err(washer.dut, "start cotton") == (4, "door open")
    st = washer.status()
    assert (st["state"], st["door"], st["lock"], st["valve"]) == ("IDLE", "open", 0, 0)


def test_door_cannot_unlock_while_running_or_wet(washer):
    mark = washer.start("cotton")
    washer.wait_state("WASH", since=mark)
    code, text = _err(washer.dut, "door unlock")
    assert code == 4 and text in ("program running", "drum turning", "water above safe level")
    assert washer.status()["lock"] == 1
    assert washer.dut.command("door") == "lock=1 door=closed"


def test_door_unlocks_when_idle(washer):
    assert washer.dut.command("door unlock") == "unlocked"
    assert washer.dut.command("door") == "lock=0 door=closed"


def _assert_safe_until_drained(washer, mark):
    """Safe state: motor/valve/heater off, pump drains, lock held until dry and still."""
    out = washer.outputs
    assert {k: out[k] for k in SAFE_OUTPUTS} == SAFE_OUTPUTS
    st = washer.wait_until(lambda s: s["water"] <= SAFE_WATER and s["rpm"] == 0 and
                           s["lock"] == 0, "drained and unlocked after the fault")
    assert st["state"] == "FAULT"
    return st


def test_door_opened_while_locked_faults_to_safe_state(washer):
    if chiptime.on_chip_time(washer.dut):  # the drum drains in ~30 ms of chip time there
        mark = washer.start_halted("cotton")
        washer.halt_at_entry("WASH", "cotton")
        washer.stimulus(door_closed=0)
        washer.halt_at_entry("FAULT", "the door opened")
        run_to_call(washer.dut, "washer_step", 2)  # one step in FAULT, read halted
        assert washer.outputs["lock"] == 1  # water still in the drum
        washer.dut.execution.resume()
        washer.wait_fault(1, "DOOR_OPEN", since=mark)
        washer.wait_state("FAULT", since=mark)
    else:
        mark = washer.start("cotton")
        washer.wait_state("WASH", since=mark)
        washer.stimulus(door_closed=0)
        washer.wait_fault(1, "DOOR_OPEN", since=mark)
        washer.wait_state("FAULT", since=mark)
        assert washer.status()["lock"] == 1  # water still in the drum
    _assert_safe_until_drained(washer, mark)
    assert washer.faults() == "1:DOOR_OPEN"


def test_overfill_faults_drains_and_clears(washer):
    mark = washer.start("cotton")
    washer.wait_state("FILL", since=mark)
    washer.stimulus(valve_stuck=1)
    washer.wait_fault(2, "OVERFILL", since=mark)
    washer.wait_state("FAULT", since=mark)
    assert washer.outputs["pump"] == 1
    assert _err(washer.dut, "start quick") == (5, "fault active")
    washer.stimulus(valve_stuck=0)
    _assert_safe_until_drained(washer, mark)
    assert washer.faults() == "2:OVERFILL"
    assert washer.dut.command("clear") == "clear"
    st = washer.status()
    assert (st["state"], st["faults"]) == ("IDLE", 0)
    assert washer.faults() == "none"


def test_clear_is_refused_while_unsafe(washer):
    washer.stimulus(plant_enabled=0, water_level=120)
    mark = washer.start("cotton")
    washer.stimulus(door_closed=0)
    washer.wait_fault(1, "DOOR_OPEN", since=mark)
    assert _err(washer.dut, "clear") == (4, "not safe")
    assert washer.status()["lock"] == 1
    washer.stimulus(water_level=0)
    washer.wait_until(lambda s: s["lock"] == 0, "unlock once dry")
    washer.stimulus(door_closed=1)
    assert washer.dut.command("clear") == "clear"


def test_imbalance_in_spin_stops_the_drum_and_keeps_the_door_locked(washer):
    washer.stimulus(imbalance=45)  # only checked in SPIN
    mark = washer.start("quick")
    washer.wait_state("SPIN", since=mark)
    washer.wait_fault(3, "IMBALANCE", since=mark)
    washer.wait_state("FAULT", since=mark)
    assert washer.states_since(mark)[-1] == "FAULT"
    assert washer.outputs["motor"] == 0
    st = washer.status()
    assert st["lock"] == 1 or st["rpm"] == 0
    _assert_safe_until_drained(washer, mark)


def test_heater_over_temperature(washer):
    washer.stimulus(heater_stuck=1)
    mark = washer.start("cotton")
    washer.wait_fault(4, "OVERTEMP", since=mark)
    assert washer.outputs["heater"] == 0
    assert "4:OVERTEMP" in washer.faults()


def test_fill_timeout_when_no_water_arrives(washer):
    washer.stimulus(plant_enabled=0, water_level=0)
    mark = washer.start("cotton")
    washer.wait_fault(5, "FILL_TIMEOUT", since=mark, timeout=5)
    assert washer.outputs["valve"] == 0
    st = washer.status()
    assert (st["state"], st["lock"]) == ("FAULT", 0)  # dry and still: safe to open


def test_drain_timeout_when_pump_cannot_empty(washer):
    mark = washer.start("quick")
    washer.wait_state("SPIN", since=mark)
    washer.stimulus(plant_enabled=0, water_level=80, drum_rpm=0)
    washer.wait_fault(6, "DRAIN_TIMEOUT", since=mark, timeout=5)
    st = washer.status()
    assert st["lock"] == 1 and st["pump"] == 1  # water inside: stays locked, keeps pumping
