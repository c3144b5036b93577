"""Run a chip to the n-th call of a firmware function, through its debugger: a point in the
firmware's own progress that does not depend on the host (with chip time on, the chip time at
that point is the same on every run)."""

from __future__ import annotations

from ..dut import Dut
from ..errors import HarnessError


def run_to_call(dut: Dut, function: str, n: int, timeout: float = 60.0) -> None:
    """Let the chip run until ``function`` is entered for the ``n``-th time from now; it is left
    halted at the function's first instruction (a call it is halted on already is not counted)."""
    at = dut.image.symbol(function).address & ~1
    ex = dut.execution
    if ex.is_halted and ex.read_register("pc") == at:
        # halted on that call already (a previous run_to_call): it does not count, and off it
        # first — a resume there stops at once in QEMU's gdbstub and steps over in pyOCD
        ex.step()
    ex.set_breakpoint(at)
    try:
        for k in range(n):
            if k:  # off the breakpoint, on to the next call
                ex.clear_breakpoint(at)
                ex.step()
                ex.set_breakpoint(at)
            ex.resume()
            halt = ex.wait_halt(timeout)
            if halt is None or halt.pc != at:
                ex.halt()
                raise HarnessError(f"{dut.name}: {function} was not entered a {k + 1}. time "
                                   f"within {timeout:g} s")
    finally:
        ex.clear_breakpoint(at)
