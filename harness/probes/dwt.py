"""The DWT of the ``qemu:`` probe: a cycle counter (CYCCNT) the way silicon has one.

QEMU models no DWT (its registers read 0), so debuggers and chip-time tools that time a part by
its cycle counter would find none. The probe answers the DWT's registers itself:

* DWT_CTRL (0xE0001000): CYCCNTENA (bit 0) and the counter's own control bits read back as
  written; NUMCOMP is 0 (no comparators: QEMU's watchpoints are not wired to it);
  NOTRCPKT, NOEXTTRIG and NOPRFCNT are set (no trace packets, no external triggers, no
  profiling counters); NOCYCCNT (bit 25) is clear when the chip has a cycle count;
* DWT_CYCCNT (0xE0001004): 32 bits, wraps, writable (firmware and debuggers zero it). It counts
  while DEMCR.TRCENA and CYCCNTENA are both set, and holds its value otherwise;
* the CoreSight identification registers (a v7-M DWT, part 0x002; v6-M 0x00A), listed in the
  probe's ROM table so that pyOCD finds it (``core.dwt``).

The count is :mod:`harness.probes.cycles`: one cycle per instruction-time (2^shift ns) of
QEMU's virtual clock on icount, including the time the core sleeps — exact and
host-independent. A QEMU without icount has no count of its own: its virtual clock follows the
host's, so a counter made from it would count the host's speed, and the same code would read
differently from one run to the next, where silicon reads the same. There the DWT says what
a part without a cycle counter says: NOCYCCNT set, CYCCNT reading 0; :attr:`Dwt.why_not` keeps
the reason for the harness. A v6-M core (Cortex-M0/M0+) has no CYCCNT at all: bit 25 is
reserved there (0) and CYCCNT reads 0, as on silicon.

Firmware does not see this DWT: its own loads from 0xE0001000 reach QEMU (0). Like the rest of
the debug logic, the DWT is not reset by a system reset.
"""

from __future__ import annotations

import socket
from typing import Protocol

from .coresight import CLASS_GENERIC, component_id_words
from .gdb_core import GdbCore

DWT = 0xE0001000
DWT_CTRL, DWT_CYCCNT = DWT, DWT + 0x4
DWT_END = DWT + 0x1000
CYCCNTENA = 1
CTRL_WRITABLE = 0x3FF  # CYCCNTENA, POSTPRESET, POSTINIT, CYCTAP: the counter's own controls
NOPRFCNT, NOCYCCNT, NOEXTTRIG, NOTRCPKT = 1 << 24, 1 << 25, 1 << 26, 1 << 27
TRCENA = 1 << 24  # DEMCR
WRAP = 1 << 32
V6M = ("cortex-m0", "cortex-m0plus")


class CycleSource(Protocol):
    """Where a count comes from: cycles since some start, frozen while the core is halted."""

    @property
    def cycle_ns(self) -> int: ...

    def now(self) -> int: ...


class Dwt:
    """The DWT registers of one core (see the module's docstring)."""

    def __init__(self, cycles: CycleSource | None, cpu: str = "cortex-m3",
                 why_not: str = "") -> None:
        self.v6m = cpu in V6M
        self.cycles = None if self.v6m else cycles
        self.why_not = ("a v6-M core (Cortex-M0/M0+) has no cycle counter" if self.v6m
                        else why_not if cycles is None else "")
        self.ctrl = 0
        self.trcena = False
        self.held = 0  # CYCCNT when it last stopped counting (or was written)
        self.since: int | None = None  # the source's cycles when it (re)started counting
        part = 0x00A if self.v6m else 0x002
        self.ids = {DWT + off: v for off, v in component_id_words(part, CLASS_GENERIC).items()}

    @classmethod
    def for_gdbstub(cls, core: GdbCore, sock: socket.socket, cpu: str) -> Dwt:
        """The DWT of the QEMU behind a gdbstub connection (a count when it runs on icount)."""
        from .cycles import for_gdbstub

        cycles, why_not = for_gdbstub(core, sock)
        return cls(cycles, cpu, why_not)

    @property
    def cycle_ns(self) -> int | None:
        """Chip ns per counted cycle; None: the part has no cycle counter."""
        return self.cycles.cycle_ns if self.cycles is not None else None

    @property
    def counting(self) -> bool:
        return self.cycles is not None and self.trcena and bool(self.ctrl & CYCCNTENA)

    def handles(self, address: int) -> bool:
        return DWT <= address < DWT_END

    def _control(self) -> int:
        if self.v6m:
            return 0  # NUMCOMP 0; nothing else is defined
        value = NOTRCPKT | NOEXTTRIG | NOPRFCNT | self.ctrl
        return value if self.cycles is not None else value | NOCYCCNT

    def _cyccnt(self) -> int:
        if self.cycles is None:
            return 0
        if self.since is None:
            return self.held
        return (self.held + self.cycles.now() - self.since) % WRAP

    def _set(self, *, ctrl: int | None = None, trcena: bool | None = None,
             cyccnt: int | None = None) -> None:
        """Change what the counter depends on: the count so far is kept (or replaced by
        ``cyccnt``) and counting goes on from now if it may — one reading of the source, and
        none when it neither counted nor will."""
        was = self.since is not None
        if ctrl is not None:
            self.ctrl = ctrl & CTRL_WRITABLE
        if trcena is not None:
            self.trcena = trcena
        now = self.cycles.now() if self.cycles is not None and (was or self.counting) else None
        if now is not None and self.since is not None:
            self.held = (self.held + now - self.since) % WRAP
        if cyccnt is not None:
            self.held = cyccnt % WRAP
        self.since = now if self.counting else None

    def trace_enable(self, demcr: int) -> None:
        """DEMCR was written: TRCENA gates the whole DWT."""
        if bool(demcr & TRCENA) != self.trcena:
            self._set(trcena=bool(demcr & TRCENA))

    def read32(self, address: int) -> int:
        if address == DWT_CTRL:
            return self._control()
        if address == DWT_CYCCNT:
            return self._cyccnt()
        return self.ids.get(address, 0)  # comparators, profiling counters, PCSR: none

    def write32(self, address: int, value: int) -> None:
        if self.cycles is None:
            return  # no counter: its controls read as reset
        if address == DWT_CTRL and (value & CTRL_WRITABLE) != self.ctrl:
            self._set(ctrl=value)
        elif address == DWT_CYCCNT:
            self._set(cyccnt=value)
