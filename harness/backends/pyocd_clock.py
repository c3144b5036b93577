"""``dut.clock`` in the pyocd world: chip time from the core's DWT cycle counter (CYCCNT).

A Cortex-M3 and up has a 32-bit cycle counter in its DWT that a debugger reads without
stopping the core. Chip time is that count, extended past its wraps and converted at the core's
clock rate, counted from the Dut's power-on; it does not advance while the core is halted in
debug state, as chip time must not. The same code runs on a bench probe and on the ``qemu:``
probe, whose DWT counts QEMU's instructions on icount (:mod:`harness.probes.dwt`), so CI tests
the bench's path.

**The clock rate.** Cycles become ns at one rate, chosen in this order:

1. the ``qemu:`` probe's own cycle time (2^shift ns, the board's ``chip_time_shift``): its
   counter counts exactly that, whatever else a target says;
2. the target's ``bench.core_clock_hz``: the rate the bench's part runs at, stated by whoever
   owns the target file — a fixed figure a test can rely on, and what overrides the firmware;
3. the firmware's CMSIS ``SystemCoreClock`` variable when the ELF has that symbol, read from
   the chip the first time a reading is converted (after boot: at power-on it still holds
   the reset clock, before SystemCoreClockUpdate() has run).

Without any of them the part has no chip time. One rate for the whole run: a firmware that
changes its core clock later, or a part whose counter stops in deep sleep, is not on chip time
through its counter.

**Checked when the chip is opened** (after its image is programmed, the core halted at its
reset vector): a DWT in the ROM table, a core that has CYCCNT (not ARMv6-M or ARMv8-M
Baseline), DWT_CTRL.NOCYCCNT clear, a known rate, and a counter that moves: DEMCR.TRCENA and
DWT_CTRL.CYCCNTENA are set, one instruction is stepped and the count must change (the core is
reset and halted again after). :class:`NoCycleCounter` says which of these failed.

**Wraps.** A 32-bit count wraps every 2^32 cycles: 43 s at 100 MHz, about 70 s of chip time at
the qemu: probe's 16 ns, which an idle emulated chip runs in 2-5 s of wall time. So while the
chip is on (from :meth:`DwtClock.power_on` until :meth:`DwtClock.idle` or close) a watcher
thread reads the counter at least twice per wrap period at the fastest speed the chip was seen
to run (a guess until measured: the wall's own speed for a part, 50x for an emulated chip).
A firmware or tool that writes CYCCNT itself breaks the count; the qemu: probe's firmware
cannot (its own stores reach QEMU, not the probe's DWT).

``run_for`` and ``sleep`` poll the counter between waits on the host sized as in the qemu
world (:mod:`harness.backends.qemu_clock`): half the time left at the speed measured, between
0.2 and 100 ms of wall time. On a part a reading costs a probe transfer and the core runs on;
``run_for`` halts it after the reading that passed the deadline. An emulated core runs 15-100x
the wall, so there ``run_for`` halts the core before each reading instead (a reading halts
the VM anyway, for ~10 ms of wall time and no chip time): it runs only in the waits, and
overshoots by what it runs in the last one and its halt request — a few ms of chip time on an
idle host, where reading while it ran gave tens.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import HarnessError
from ..protocols import Clock, Execution, Memory

if TYPE_CHECKING:
    from ..config import Target
    from ..firmware import FirmwareImage

DEMCR, TRCENA = 0xE000EDFC, 1 << 24
DWT_CTRL, DWT_CYCCNT = 0xE0001000, 0xE0001004
CYCCNTENA, NOCYCCNT = 1, 1 << 25
WRAP = 1 << 32
SYSTEM_CORE_CLOCK = "SystemCoreClock"
PLAUSIBLE_HZ = (1_000, 2_000_000_000)
MIN_WAIT, FIRST_WAIT, MAX_WAIT = 0.0002, 0.001, 0.1  # s of wall time between two readings
PART_SPEED = 1e9  # chip ns per wall s: a part runs in real time
EMULATED_SPEED = 50e9  # ... an idle chip on icount, until one is seen to run faster
WATCH_LIMITS = (0.05, 10.0)  # s of wall time between two readings of the watcher


class NoCycleCounter(HarnessError):
    """The part has no usable cycle counter, or its clock rate is unknown."""


class ChipOwner(Protocol):
    """What the clock needs of the backend that holds the chip's pyOCD session."""

    @property
    def name(self) -> str: ...

    @property
    def target(self) -> Target: ...

    @property
    def image(self) -> FirmwareImage: ...

    @property
    def memory(self) -> Memory: ...

    @property
    def execution(self) -> Execution: ...

    @property
    def session(self) -> Any: ...


class Wraps:
    """Readings of a 32-bit counter extended to a count that does not wrap: right as long as
    it is read at least once per wrap period while it counts."""

    def __init__(self) -> None:
        self.wraps = 0
        self.last: int | None = None

    def extend(self, raw: int) -> int:
        if self.last is not None and raw < self.last:
            self.wraps += 1
        self.last = raw
        return self.wraps * WRAP + raw


def ns_per_cycle(hz: int) -> Fraction:
    return Fraction(10**9, hz)


def to_ns(cycles: int, per_cycle: Fraction) -> int:
    """Whole ns of ``cycles`` at ``per_cycle`` ns each (rounded down)."""
    return int(cycles * per_cycle)


class DwtClock(Clock):
    """Chip time from a DWT cycle counter read through ``memory`` (see the module's
    docstring). ``rate``: chip ns per cycle, asked for once, at the first conversion."""

    def __init__(self, memory: Memory, execution: Execution, rate: Callable[[], Fraction],
                 name: str, emulated: bool = False) -> None:
        self.memory = memory
        self.execution = execution
        self.name = name
        self._rate_of = rate
        self._rate: Fraction | None = None
        self._lock = threading.Lock()
        self._wraps = Wraps()
        self.epoch = 0  # extended count at power-on
        self.ratio = 0.0  # chip ns per wall s, as last measured
        self.emulated = emulated
        self.fastest = EMULATED_SPEED if emulated else PART_SPEED
        self.reads = 0
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self.watch_error: BaseException | None = None

    # -- the count -----------------------------------------------------------------------------
    @property
    def per_cycle(self) -> Fraction:
        if self._rate is None:
            self._rate = self._rate_of()
        return self._rate

    def cycles(self) -> int:
        """The extended count now."""
        with self._lock:
            self.reads += 1
            return self._wraps.extend(self.memory.read_u32(DWT_CYCCNT))

    def _ns(self) -> int:
        return to_ns(self.cycles() - self.epoch, self.per_cycle)

    # -- the Dut's life ------------------------------------------------------------------------
    def power_on(self) -> None:
        """Chip time starts now (the core is halted at its reset vector); the watcher runs."""
        enable(self.memory)
        with self._lock:
            self._wraps = Wraps()
        self.epoch = self.cycles()
        self._watch()

    def idle(self) -> None:
        """The chip is not in use (a pool keeps it halted): no watching until power-on."""
        self._stop.set()
        watcher, self._watcher = self._watcher, None
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(timeout=5.0)

    close = idle

    def _watch(self) -> None:
        self.idle()
        self._stop = threading.Event()
        self.watch_error = None
        self._watcher = threading.Thread(target=self._watch_loop, args=(self._stop,),
                                         name=f"{self.name}-cyccnt", daemon=True)
        self._watcher.start()

    def _watch_loop(self, stop: threading.Event) -> None:
        last_t, last = time.monotonic(), self.epoch
        while not stop.wait(self.watch_interval()):
            try:
                count = self.cycles()
            except Exception as exc:  # noqa: BLE001 (the next reading in the test says it)
                self.watch_error = exc
                return
            t = time.monotonic()
            if self._rate is not None and t > last_t:
                self.fastest = max(self.fastest, to_ns(count - last, self._rate) / (t - last_t))
            last_t, last = t, count

    def watch_interval(self) -> float:
        """Wall s between two readings: half a wrap period at the fastest speed seen."""
        per_cycle = self._rate if self._rate is not None else Fraction(1)  # 1 GHz until known
        wrap_wall = float(WRAP * per_cycle) / max(self.fastest, self.ratio)
        return min(WATCH_LIMITS[1], max(WATCH_LIMITS[0], wrap_wall / 2))

    # -- Clock ---------------------------------------------------------------------------------
    def now(self) -> int:
        return self._ns()

    def sleep(self, ms: float) -> int:
        start = self._ns()
        self._until(start + int(ms * 1e6), start)
        return self._ns() - start

    def run_for(self, ms: float) -> int:
        start = self._ns()
        self._until(start + int(ms * 1e6), start, hold=self.emulated)
        self.execution.halt()
        return self._ns() - start

    def _until(self, deadline: int, start: int, hold: bool = False) -> None:
        """Let the core run until chip time reaches ``deadline`` (ns); it runs on. ``hold``:
        halted for each reading (and left halted): an emulated core runs many times faster
        than the wall, and the way back from a reading through pyOCD's layers would be chip
        time the wait did not size."""
        now = start
        wait = min(FIRST_WAIT, max(MIN_WAIT, (deadline - now) / self.fastest / 2))
        while now < deadline:
            if self.execution.is_halted:
                self.execution.resume()
            t0 = time.monotonic()
            time.sleep(wait)
            if hold:
                self.execution.halt()
            ran = time.monotonic() - t0
            before, now = now, self._ns()
            if now > before:
                self.ratio = (now - before) / ran
                self.fastest = max(self.fastest, self.ratio)
            # never assume less than a quarter of the fastest seen (code translated again
            # after a breakpoint runs slowly at first on QEMU), as the qemu world does
            assumed = max(self.ratio, self.fastest / 4)
            wait = min(MAX_WAIT, max(MIN_WAIT, (deadline - now) / assumed / 2))
        if not hold and self.execution.is_halted:
            self.execution.resume()


def enable(memory: Memory) -> None:
    """DEMCR.TRCENA and DWT_CTRL.CYCCNTENA set (left as they are when they already are)."""
    demcr = memory.read_u32(DEMCR)
    if not demcr & TRCENA:
        memory.write_u32(DEMCR, demcr | TRCENA)
    ctrl = memory.read_u32(DWT_CTRL)
    if not ctrl & CYCCNTENA:
        memory.write_u32(DWT_CTRL, ctrl | CYCCNTENA)


STEP_STACK = 64  # bytes below the stack pointer one stepped instruction may write


def open_clock(backend: ChipOwner) -> DwtClock:
    """The chip's clock, checked (see the module's docstring); the core is halted at its reset
    vector before and after. Raises :class:`NoCycleCounter` saying what is missing."""
    from pyocd.coresight.core_ids import CoreArchitecture

    from ..probes import emulated_dwt

    core = backend.session.target.selected_core
    memory, execution = backend.memory, backend.execution
    probe_dwt = emulated_dwt(backend.session)
    if getattr(core, "dwt", None) is None:
        raise NoCycleCounter("pyOCD found no DWT in the part's ROM table")
    if core.architecture in (CoreArchitecture.ARMv6M, CoreArchitecture.ARMv8M_BASE):
        raise NoCycleCounter(f"the core is {core.architecture.name}, whose DWT has no cycle "
                             "counter")
    if memory.read_u32(DWT_CTRL) & NOCYCCNT:
        why = f": {probe_dwt.why_not}" if probe_dwt is not None and probe_dwt.why_not else ""
        raise NoCycleCounter(f"DWT_CTRL.NOCYCCNT is set: the part has no cycle counter{why}")
    rate = clock_rate(backend, probe_dwt.cycle_ns if probe_dwt is not None else None)
    enable(memory)
    # the stepped instruction (the reset handler's first) may push: what it wrote below the
    # initial stack pointer is put back, so the chip stays as a fresh one
    stack = execution.read_register("sp") - STEP_STACK
    below = memory.read(stack, STEP_STACK)
    before = memory.read_u32(DWT_CYCCNT)
    execution.step()
    after = memory.read_u32(DWT_CYCCNT)
    execution.reset(halt=True)
    memory.write(stack, below)
    if after == before:
        raise NoCycleCounter(f"DWT_CYCCNT does not count: 0x{before:08x} before and after a "
                             "step, with DEMCR.TRCENA and DWT_CTRL.CYCCNTENA set")
    return DwtClock(memory, execution, rate, backend.name, emulated=probe_dwt is not None)


def clock_rate(backend: ChipOwner, probe_cycle_ns: int | None) -> Callable[[], Fraction]:
    """Chip ns per cycle, or how to read it (see the module's docstring for the order)."""
    if probe_cycle_ns is not None:
        fixed = Fraction(probe_cycle_ns)
        return lambda: fixed
    bench = backend.target.bench
    if bench is not None and bench.core_clock_hz is not None:
        stated = ns_per_cycle(bench.core_clock_hz)
        return lambda: stated
    symbol = backend.image.symbols.get(SYSTEM_CORE_CLOCK)
    if symbol is None:
        raise NoCycleCounter(f"its core clock rate is unknown: set bench.core_clock_hz in "
                             f"{backend.target.source}, or give the firmware CMSIS's "
                             f"{SYSTEM_CORE_CLOCK}")
    address = symbol.address

    def firmware_says() -> Fraction:
        hz = backend.memory.read_u32(address)
        if not PLAUSIBLE_HZ[0] <= hz <= PLAUSIBLE_HZ[1]:
            raise HarnessError(f"{backend.name}: {SYSTEM_CORE_CLOCK} reads {hz} (Hz): not a "
                               "core clock (has the firmware set it yet?); set "
                               f"bench.core_clock_hz in {backend.target.source}")
        return ns_per_cycle(hz)

    return firmware_says
