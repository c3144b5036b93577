"""Measurements of the washer against the product's limits (``targets/limits/qsm-washer.yaml``).

Times are the chip's own program clock, not samples taken by the host: every ``EVT state``
line carries the program ms since the program started (``at=``), and struct ``program_stats``
holds the program's heater-on time and highest water temperature — so a loaded host cannot
blur a measurement. Boot-to-ready is from a reset to ``READY``: chip time on chip time (the chip
halted where it prints the line), host time otherwise.
Run under a station (``--serial``), each value is committed to the record the moment it is taken.
"""

import pytest

from harness import chiptime
from harness.testing.calls import run_to_call

pytestmark = pytest.mark.targets("qsm-washer")


# Program ms per tick while a program runs: the plant model's step, so the resolution of every
# duration below (0.2 s of program time; a cotton program takes ~1.5 s of chip time).
TIME_SCALE = 200


def _run(washer, program: str, time_scale: int = TIME_SCALE) -> tuple[dict[str, float], dict]:
    """Run ``program`` to DONE: ({state: program s at which it began}, program_stats)."""
    washer.stimulus(time_scale=time_scale)
    mark = washer.start(program)
    washer.wait_state("DONE", since=mark, timeout=30.0)
    began = {}
    for name, at_ms in washer.state_times(mark):
        assert name != "FAULT", f"fault during {program}: {washer.status()}"
        began.setdefault(name, at_ms / 1e3)
    return began, washer.dut.symbols["program_stats"]


def test_boot_to_ready_time(dut, measure):
    if chiptime.on_chip_time(dut) and dut.has("symbols"):
        measure("boot_to_ready", _chip_boot_to_ready(dut) / 1e6, "ms")
        return
    con = dut.console
    ready = con.expect(r"^READY$", since=0)
    measure("boot_to_ready", (con.time_of(ready.start) - con.t0) * 1e3, "ms")


def _chip_boot_to_ready(dut) -> int:
    """Chip time (ns) from a reset to the call that prints ``READY``: the chip is reset halted
    and stopped there, so neither the host's load nor its reaction to the line counts."""
    ex = dut.execution
    ex.reset(halt=True)
    start = dut.clock.now()
    try:
        for _ in range(8):  # the boot prints a few lines before READY
            run_to_call(dut, "con_line", 1)
            line = dut.memory.read(ex.read_register("r0"), len(b"READY\0"))
            if line == b"READY\0":
                return dut.clock.now() - start
        pytest.fail("the washer printed no READY within its first 8 lines after a reset")
    finally:
        ex.resume()


@pytest.mark.requires("symbols")
def test_cotton_program_timing(washer, measure):
    began, stats = _run(washer, "cotton")
    assert list(began) == ["FILL", "WASH", "RINSE", "SPIN", "DRAIN", "DONE"]
    measure("fill_time", began["WASH"] - began["FILL"], "s", stop=False)
    measure("heater_on_time", stats["heater_ms"] / 1e3, "s", stop=False)
    measure("drain_time", began["DONE"] - began["DRAIN"], "s", stop=False)
    measure("program_duration", began["DONE"] - began["FILL"], "s", stop=False)
    measure("wash_temperature", stats["max_temp_c"], "degC", stop=False)


@pytest.mark.requires("symbols")
def test_quick_program_never_heats(washer, measure):
    _, stats = _run(washer, "quick", time_scale=1000)  # whether it heats, not for how long
    measure("quick_heater_on_time", stats["heater_ms"] / 1e3, "s")
