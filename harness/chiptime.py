"""Timing in a test that runs in every world: the chip's own time where the Dut has a clock
(``--chip-time on`` in the qemu world), the host's otherwise.

A firmware timing (a status frame period, a session timeout, a lock-out delay) is a property of
the chip, so a test measures it in chip time where it can: there the figure does not depend on
how busy the host is, and an idle chip runs many times faster than the wall. Where the Dut has
no clock (a board on a probe, QEMU on the host's time) the same test falls back to the host's
clock, as before::

    from harness import chiptime

    watch = chiptime.Stopwatch(dut)
    dut.console.expect_exact("EVT session 1", timeout=10.0)   # the ECU's S3 expired
    assert watch.elapsed_ms() >= 5000   # never early (late by what the host took to see it)

    chiptime.wait(dut, 5_500)           # 5.5 s of the chip's time pass (the chip runs on)

On chip time an idle chip runs 15-40x faster than the wall, so whatever the host does between
two steps of a test (its own code, a thread scheduled late on a busy machine) costs the chip
15-40x that much of its time: 150 ms of host stall is seconds of chip time, enough for a
firmware timeout (a UDS session's S3) to expire between two requests. A test that must not
lose chip time between its steps holds the chip there: :func:`hold` runs it for a stretch of
chip time and leaves it halted, and :func:`running` lets it run only inside a block::

    for _ in range(10):
        chiptime.hold(dut, 1000)        # 1 s of chip time, then the chip holds
        with chiptime.running(dut):     # it runs while it answers
            uds.tester_present()
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .dut import Dut
    from .protocols import Clock


def clock_of(dut: Dut) -> Clock | None:
    """The Dut's chip clock, None where it runs on the host's time."""
    return dut.clock if dut.has("clock") else None


def on_chip_time(dut: Dut) -> bool:
    return dut.has("clock")


def wait(dut: Dut, ms: float) -> None:
    """Let ``ms`` of the chip's time pass while it runs (at least that much: chip time where the
    Dut has a clock, host time otherwise)."""
    clock = clock_of(dut)
    if clock is None:
        time.sleep(ms / 1000)
    else:
        clock.sleep(ms)


def hold(dut: Dut, ms: float) -> int:
    """Let the chip run for ``ms`` of its time, then (on chip time) leave it halted; the ns it
    ran. Without a chip clock: a host sleep of ``ms``, the chip running on."""
    clock = clock_of(dut)
    if clock is None:
        time.sleep(ms / 1000)
        return int(ms * 1e6)
    return clock.run_for(ms)


@contextlib.contextmanager
def running(dut: Dut) -> Iterator[None]:
    """On chip time: the chip runs inside the block only (resumed if halted, halted after).
    Without a chip clock: nothing, the chip runs anyway."""
    if clock_of(dut) is None:
        yield
        return
    if dut.execution.is_halted:
        dut.execution.resume()
    try:
        yield
    finally:
        dut.execution.halt()


class Stopwatch:
    """Time elapsed since it was made (or last :meth:`restart`), in the Dut's time."""

    def __init__(self, dut: Dut) -> None:
        self._clock = clock_of(dut)
        self._start = self._now()

    @property
    def chip_time(self) -> bool:
        """Whether it counts chip time (else host time)."""
        return self._clock is not None

    def _now(self) -> int:
        return self._clock.now() if self._clock is not None else time.monotonic_ns()

    def restart(self) -> None:
        self._start = self._now()

    def elapsed_ms(self) -> float:
        return (self._now() - self._start) / 1e6
