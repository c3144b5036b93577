"""Wash programs: the full sequence, the outputs each state needs, stop, restart."""

import pytest

from harness import chiptime
from harness.errors import CommandError
from harness.testing.calls import run_to_call

from .conftest import SAFE_WATER, STATES, STATES_BY_CODE

pytestmark = pytest.mark.targets("qsm-washer")


# outputs each state must drive (see firmware/README.md); heater checked per program
REQUIRED = {
    "FILL": {"motor": 0, "valve": 1, "pump": 0, "heater": 0, "lock": 1},
    "WASH": {"motor": 1, "valve": 0, "pump": 0, "lock": 1},
    "RINSE": {"motor": 1, "valve": 1, "pump": 1, "heater": 0, "lock": 1},
    "SPIN": {"motor": 1, "valve": 0, "pump": 1, "heater": 0, "lock": 1},
    "DRAIN": {"motor": 0, "valve": 0, "pump": 1, "heater": 0, "lock": 1},
    "DONE": {"motor": 0, "valve": 0, "pump": 0, "heater": 0, "lock": 0},
}


def _states_on_chip_time(washer):
    """On chip time, sampling by polling loses states: a late answer on a busy host is 15-40x
    that much of the chip's time. Here the chip is halted where the controller enters each
    state, then one controller step (1 ms tick) into it, and read while halted: the same
    samples on every run, however loaded the host. (A hold of some chip time would not do: a
    loaded host lets the chip run on past it, past a short state.)"""
    dut = washer.dut
    while True:  # halted where a state is entered (FILL: by start_halted)
        yield _stepped_sample(dut)
        run_to_call(dut, "enter", 1)


def _sample(dut) -> dict:
    """What ``status`` shows, read from the controller's variables (the chip halted)."""
    sens, out = dut.symbols["sens"], dut.symbols["outputs"]
    return {"state": STATES_BY_CODE[dut.symbols["state"]], "water": sens["water_mm"],
            "rpm": sens["drum_rpm"], **out}


def _stopped(washer, stop: int):
    """The controller's state from the stop command until it is IDLE again. On chip time its
    DRAIN lasts tens of ms of chip time, ~2 ms of wall time: the chip is halted where DRAIN
    is entered, then sampled after each controller step while halted. On the host's time, by
    polling ``status``."""
    dut = washer.dut
    if not chiptime.on_chip_time(dut):
        assert dut.command("stop") == "stop"
        washer.wait_state("DRAIN", since=stop)
        while (st := washer.status())["state"] != "IDLE":
            yield st
        yield st
        return
    dut.execution.halt()
    dut.console.sendline("stop")  # taken by the UART while halted, read once it runs
    washer.halt_at_entry("DRAIN", "stop")
    while (st := _stepped_sample(dut))["state"] != "IDLE":
        yield st
    dut.execution.resume()
    yield st


def _stepped_sample(dut) -> dict:
    """The controller's state after its next step (halted at the start of the one after)."""
    run_to_call(dut, "washer_step", 2)
    return _sample(dut)


@pytest.mark.requires("symbols")
@pytest.mark.parametrize("program, heats, spin_rpm", [
    ("cotton", True, 1200), ("synthetic", True, 800), ("quick", False, 800), ("wool", True, 600),
])
def test_program_runs_every_state_with_required_outputs(washer, program, heats, spin_rpm):
    # 5x slower program time, so that every state lasts long enough to be sampled many times
    # by `status` (one line: state and outputs from the same instant) on a loaded machine
    washer.stimulus(time_scale=200)
    timed = chiptime.on_chip_time(washer.dut)
    mark = washer.start_halted(program) if timed else washer.start(program)
    seen: list[str] = []
    heater_in_wash: set[int] = set()
    spin_cmd: set[int] = set()
    samples = _states_on_chip_time(washer) if timed else None
    while True:
        st = next(samples) if samples is not None else washer.status()
        state = st["state"]
        if not seen or seen[-1] != state:
            seen.append(state)
        if state in REQUIRED:
            want = {k: v for k, v in REQUIRED[state].items() if k in st}
            if state == "DRAIN" and st["water"] <= SAFE_WATER and st["rpm"] == 0:
                want.pop("lock")  # drained and still: the lock may already be released
            assert {k: st[k] for k in want} == want, f"outputs in {state}: {st}"
        if state == "WASH":
            heater_in_wash.add(st["heater"])
        if state == "SPIN":
            spin_cmd.add(washer.outputs["motor_rpm"])  # SPIN commands the program's speed
        if state in ("DONE", "FAULT", "IDLE") and len(seen) > 1:
            break
    if samples is not None:
        washer.dut.execution.resume()
    assert seen == STATES[1:], f"states seen by polling: {seen}"
    # the heater's own account: a sample may fall where it is off (it holds the temperature)
    assert (washer.dut.symbols["program_stats"]["heater_ms"] > 0) == heats
    if samples is None:
        assert (1 in heater_in_wash) == heats
    assert spin_rpm in spin_cmd and spin_cmd <= {spin_rpm, 0}  # 0: read just after SPIN ended
    washer.wait_state("DONE", since=mark)
    assert washer.states_since(mark) == STATES[1:]
    st = washer.status()
    assert (st["state"], st["lock"], st["faults"]) == ("DONE", 0, 0)
    assert st["water"] <= SAFE_WATER and st["rpm"] == 0


@pytest.mark.requires("symbols")
def test_heater_stops_at_program_temperature(washer):
    mark = washer.start("wool")  # 30 °C
    washer.wait_state("RINSE", since=mark)
    log = washer.dut.console.read_since(mark)
    assert "EVT fault" not in log
    assert washer.status()["temp"] <= 40  # heated to about 30 °C, not beyond


def test_start_while_running_is_busy(washer):
    washer.start("cotton")
    with pytest.raises(CommandError) as e:
        washer.dut.command("start quick")
    assert (e.value.code, e.value.text) == (4, "busy")
    assert washer.status()["program"] == "cotton"


def test_stop_mid_program_drains_before_unlocking(washer):
    if chiptime.on_chip_time(washer.dut):  # FILL and WASH last ms of wall time there
        mark = washer.start_halted("cotton")
        washer.halt_at_entry("WASH", "cotton")
        assert _stepped_sample(washer.dut)["water"] > SAFE_WATER
    else:
        mark = washer.start("cotton")
        washer.wait_state("WASH", since=mark)
        assert washer.status()["water"] > SAFE_WATER
    stop = washer.mark()
    # while water is above the safe level or the drum turns, the door stays locked
    seen = []
    for st in _stopped(washer, stop):
        seen.append(st)
        if st["state"] == "IDLE":
            break
        assert st["pump"] == 1 and st["motor"] == 0 and st["heater"] == 0, st
        if st["water"] > SAFE_WATER or st["rpm"] > 0:  # the door unlocks once it is safe,
            assert st["lock"] == 1, st                  # while the pump runs on a while
        assert len(seen) < 2000, "never returned to IDLE"
    assert st["lock"] == 0 and st["water"] <= SAFE_WATER and st["rpm"] == 0
    assert any(s["water"] > SAFE_WATER for s in seen), \
        f"drain was not observed: {seen[:3]}, states {washer.states_since(mark)}"
    washer.wait_state("IDLE", since=stop)
    assert washer.states_since(stop) == ["DRAIN", "IDLE"]


def test_stop_when_idle(washer):
    assert washer.dut.command("stop") == "idle"


def test_program_can_run_again_after_done(washer):
    mark = washer.start("quick")
    washer.wait_state("DONE", since=mark)
    again = washer.start("quick")
    washer.wait_state("DONE", since=again)
    assert washer.states_since(again) == STATES[1:]
