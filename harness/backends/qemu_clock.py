"""``dut.clock`` in the qemu world with chip time on (``--chip-time on``): QEMU's virtual clock
(:mod:`harness.emu.vclock`), counted from the Dut's power-on.

``run_for`` and ``sleep`` let the chip run and read its clock between waits on the host, sized
by the chip-time/wall-time ratio measured on the way (never taken below a quarter of the
fastest seen): half the time left, at that speed, between 0.2 and 100 ms of wall time. A
reading halts the chip for ~1.5 ms of wall time and no chip time, so the chip only runs while
the host waits. An idle chip runs 15-40x the wall, so a deadline is passed by what the chip
runs in the last wait: typically a few ms of chip time.

Stopping exactly at a chip-time deadline needs QEMU to do it, and QEMU cannot be told to stop
at a virtual time.
"""

from __future__ import annotations

import time

from ..emu.vclock import VirtualClock
from ..protocols import Clock, Execution

MIN_WAIT = 0.0002  # s of wall time between two readings near the deadline
FIRST_WAIT = 0.001  # s: the first wait, which measures how fast the chip runs
MAX_WAIT = 0.1  # s of wall time between two readings, however far the deadline
FASTEST_GUESS = 40e9  # chip ns per wall s an idle chip may run at, until one is seen


class QemuClock(Clock):
    def __init__(self, vclock: VirtualClock, execution: Execution) -> None:
        self.vclock = vclock
        self.execution = execution
        self.epoch = 0  # virtual ns at power-on
        self.ratio = 0.0  # chip ns per wall s, as last measured
        self.fastest = FASTEST_GUESS  # the fastest it was seen to run

    def power_on(self) -> None:
        """Chip time starts now (the chip is halted at its reset vector)."""
        self.epoch = self.vclock.read_ns()

    def now(self) -> int:
        return self.vclock.read_ns() - self.epoch

    def sleep(self, ms: float) -> int:
        start = self.vclock.read_ns()
        self._until(start + int(ms * 1e6), start)
        return self.vclock.read_ns() - start

    def run_for(self, ms: float) -> int:
        start = self.vclock.read_ns()
        self._until(start + int(ms * 1e6), start)
        self.execution.halt()
        return self.vclock.read_ns() - start

    def _until(self, deadline: int, start: int) -> None:
        """Let the chip run until its clock reaches ``deadline`` (virtual ns); it runs on."""
        now, wait = start, FIRST_WAIT
        while now < deadline:
            if self.execution.is_halted:
                self.execution.resume()
            t0 = time.monotonic()
            time.sleep(wait)
            ran = time.monotonic() - t0
            before, now = now, self.vclock.read_ns()
            if now > before:  # the chip runs only while we wait
                self.ratio = (now - before) / ran
                self.fastest = max(self.fastest, self.ratio)
            # A chip resumed off a breakpoint runs slowly at first (QEMU translates its code
            # again), then at full speed: a wait sized on that first reading alone would let
            # it run far past the deadline. So the speed assumed is never under a quarter of
            # the fastest seen (a guess until measured): at worst it overshoots by about the
            # time that was left.
            assumed = max(self.ratio, self.fastest / 4)
            wait = min(MAX_WAIT, max(MIN_WAIT, (deadline - now) / assumed / 2))
        if self.execution.is_halted:
            self.execution.resume()
