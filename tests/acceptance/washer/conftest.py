"""The washer's acceptance suite: world-agnostic, written against the Dut and the shell.

Stimulus goes in the way a HIL bench injects it: by writing the firmware's ``stimulus`` block
through debug memory access (tests needing it are marked ``requires("symbols")``).
"""

from __future__ import annotations

import re

import pytest

from harness import chiptime
from harness.testing.calls import run_to_call

# (each test module carries ``pytestmark = pytest.mark.targets("qsm-washer")``: pytest applies
# ``pytestmark`` per module, not from a conftest)

STATES = ["IDLE", "FILL", "WASH", "RINSE", "SPIN", "DRAIN", "DONE"]
STATES_BY_CODE = [*STATES, "FAULT"]  # the firmware's washer_state_t (firmware/washer/washer.c)
SAFE_WATER = 10


def _value(v: str):
    return int(v) if v.lstrip("-").isdigit() else v


class Washer:
    """Test-side view of the QSM-W controller (shell + outputs/stimulus blocks)."""

    def __init__(self, dut) -> None:
        self.dut = dut

    def status(self) -> dict:
        return {k: _value(v) for k, v in
                (kv.split("=", 1) for kv in self.dut.command("status").split())}

    def mark(self) -> int:
        return self.dut.console.mark()

    def start(self, program: str) -> int:
        """Start ``program``; returns a console mark taken just before."""
        m = self.mark()
        assert self.dut.command(f"start {program}") == f"start {program}"
        return m

    def wait_state(self, name: str, since: int, timeout: float = 3.0):
        return self.dut.console.expect(rf"^EVT state {name} at=\d+$", timeout=timeout,
                                       since=since)

    def wait_fault(self, code: int, name: str, since: int, timeout: float = 3.0):
        return self.dut.console.expect(rf"^EVT fault {code} {name}$", timeout=timeout,
                                       since=since)

    def states_since(self, mark: int) -> list[str]:
        return [name for name, _ in self.state_times(mark)]

    def state_times(self, mark: int) -> list[tuple[str, int]]:
        """(state, program ms since the program's start) of each ``EVT state`` line."""
        return [(m[1], int(m[2])) for m in re.finditer(r"^EVT state (\w+) at=(\d+)$",
                                                       self.dut.console.read_since(mark),
                                                       re.MULTILINE)]

    @property
    def outputs(self) -> dict:
        return self.dut.symbols["outputs"]

    def start_halted(self, program: str) -> int:
        """Start ``program`` with the chip halted where FILL is entered (on chip time FILL can
        be over before a loaded host halts the chip after ``start``'s answer); returns the
        console mark taken before. The answer comes once the chip runs again."""
        self.dut.execution.halt()  # the command waits in the UART until the breakpoint is set
        m = self.mark()
        self.dut.console.sendline(f"start {program}")
        self.halt_at_entry("FILL", program)
        return m

    def halt_at_entry(self, state: str, what: str) -> None:
        """Run the chip until the controller enters ``state``: halted at the entry, the state
        not yet changed. ``what``: what should lead there, for the failure."""
        ex = self.dut.execution
        while True:
            run_to_call(self.dut, "enter", 1)
            entering = STATES_BY_CODE[ex.read_register("r0")]  # enter(state)'s argument
            if entering == state:
                return
            assert entering not in ("DONE", "FAULT", "IDLE"), \
                f"{what} led to {entering} before {state}"

    def freeze_in(self, state: str, program: str = "cotton", time_scale: int = 100) -> int:
        """Start ``program`` at ``time_scale`` program ms per tick and freeze its time
        (``time_scale`` 0) in ``state``; returns the console mark of the start.

        On chip time the chip is halted where the controller enters each state and frozen
        there: a host that reacts late to the state's line (a loaded one) is 15-40x that late
        in the chip's time, past a short state. On the host's time, once its line is seen."""
        self.stimulus(time_scale=time_scale)
        mark = self.start(program)
        if chiptime.on_chip_time(self.dut):
            self.halt_at_entry(state, program)
            self.stimulus(time_scale=0)
            self.dut.execution.resume()
        self.wait_state(state, since=mark, timeout=10.0)
        if not chiptime.on_chip_time(self.dut):
            self.stimulus(time_scale=0)
        return mark

    def stimulus(self, **fields) -> None:
        """Write stimulus fields. Turning the plant model off comes first and takes effect at
        the next tick: a tick the core was halted in the middle of would otherwise finish and
        overwrite the sensor values written after it."""
        if fields.get("plant_enabled") == 0:
            self.dut.symbols["stimulus.plant_enabled"] = 0
            self.wait_ticks(2)
            del fields["plant_enabled"]
        self.dut.symbols.update("stimulus", **fields)

    def wait_ticks(self, n: int, timeout: float = 2.0) -> None:
        import time

        start = self.dut.symbols["ms_count"]
        deadline = time.monotonic() + timeout * self.dut.timeout_factor
        while (self.dut.symbols["ms_count"] - start) & 0xFFFFFFFF < n:
            if time.monotonic() > deadline:
                pytest.fail(f"the firmware's tick did not advance {n} ms within {timeout} s")
            time.sleep(0.001)

    def faults(self) -> str:
        return self.dut.command("faults")

    def wait_until(self, predicate, what: str, timeout: float = 3.0, poll: float = 0.005):
        """Poll ``status`` until ``predicate(status)``; fails naming ``what`` and the last one."""
        import time

        deadline = time.monotonic() + timeout * self.dut.timeout_factor
        while True:
            st = self.status()
            if predicate(st):
                return st
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not reached within {timeout:.1f} s; last status {st}")
            time.sleep(poll)


@pytest.fixture
def washer(dut) -> Washer:
    return Washer(dut)
