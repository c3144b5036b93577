"""The Cortex-M debug registers QEMU does not emulate, answered from state kept here.

* DHCSR: C_DEBUGEN/C_HALT/C_STEP/C_MASKINTS written with DBGKEY become halt, step and
  continue; reads give S_HALT from the gdbstub's view, S_REGRDY after each DCRSR transfer,
  S_RESET_ST once after a reset, S_RETIRE_ST while running.
* DCRSR/DCRDR: a register transfer is a ``p``/``P`` packet done when DCRSR is written.
* DEMCR: kept; VC_CORERESET decides whether a reset stays halted.
* DFSR: the halt reason (HALTED, BKPT, VCATCH), write-one-to-clear.
* AIRCR: SYSRESETREQ/VECTRESET with VECTKEY reset the VM; reads come from QEMU.
* FPB: comparators become ``Z1``/``z1`` hardware breakpoints (when FP_CTRL is enabled).
* DWT: its cycle counter, gated by DEMCR.TRCENA (:mod:`harness.probes.dwt`).
* ROM table and the SCS/FPB identification registers.
* Lockup (DHCSR.S_LOCKUP): QEMU 7.2 aborts where a Cortex-M locks up, so a core that cannot
  run is not let run. Before the core resumes or steps (and after a reset that lets it run)
  ``lockup_check`` — :meth:`DebugUnit.runnable`, installed by the probe — checks that the
  HardFault vector (at VTOR) points at Thumb code that is not erased (with a usable handler
  every fault is taken, so nothing locks up). If not, the core enters the lockup state
  instead: QEMU's VM stays halted, DHCSR reads S_LOCKUP without S_HALT, resume and step
  requests leave it there, and a halt request (C_HALT) or a reset ends it — what a blank or
  erased part does on silicon. Flash and RAM keep their contents.

Everything else returns None from :meth:`read32` / False from :meth:`write32`: plain memory,
forwarded by the caller.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ProtocolError
from .coresight import CLASS_GENERIC, CLASS_ROM_TABLE, ROM_TABLE, component_id_words
from .dwt import DWT, Dwt
from .gdb_core import GdbCore

DHCSR, DCRSR, DCRDR, DEMCR = 0xE000EDF0, 0xE000EDF4, 0xE000EDF8, 0xE000EDFC
DFSR, AIRCR = 0xE000ED30, 0xE000ED0C
SCS, FPB = 0xE000E000, 0xE0002000
VTOR = 0xE000ED08
HARDFAULT_VECTOR = 3
ERASED_HALFWORDS = (b"\xff\xff",)
DBGKEY = 0xA05F << 16
C_DEBUGEN, C_HALT, C_STEP, C_MASKINTS = 1, 1 << 1, 1 << 2, 1 << 3
S_REGRDY, S_HALT, S_LOCKUP = 1 << 16, 1 << 17, 1 << 19
S_RETIRE_ST, S_RESET_ST = 1 << 24, 1 << 25
DCRSR_REGWNR = 1 << 16
VC_CORERESET = 1
DFSR_HALTED, DFSR_BKPT, DFSR_VCATCH = 1, 1 << 1, 1 << 3
VECTKEY = 0x05FA << 16
SYSRESETREQ, VECTRESET = 1 << 2, 1
FP_CTRL, FP_REMAP, FP_COMP0 = FPB, FPB + 4, FPB + 8
FP_KEY, FP_ENABLE = 1 << 1, 1
NUM_CODE, NUM_LIT = 6, 2

# SCS part numbers by core (v7-M SCS, v6-M SCS)
SCS_PART = {"cortex-m0": 0x008, "cortex-m0plus": 0x008, "cortex-m3": 0x000,
            "cortex-m4": 0x00C, "cortex-m4f": 0x00C, "cortex-m7": 0x00C}


def _rom_entry(base: int) -> int:
    return ((base - ROM_TABLE) & 0xFFFFF000) | 0x3


class DebugUnit:
    """Emulated debug registers of one core on top of :class:`GdbCore`."""

    def __init__(self, core: GdbCore, cpu: str = "cortex-m3", dwt: Dwt | None = None) -> None:
        self.core = core
        self.dwt = dwt
        self.lock = core.lock
        self.dhcsr_ctrl = 0  # C_* bits last written
        self.regrdy = True
        self.reset_seen = False
        self.dcrdr = 0
        self.demcr = 0
        self.dfsr = 0
        self.fp_ctrl = 0
        self.fp_comp = [0] * (NUM_CODE + NUM_LIT)
        self.inserted: set[int] = set()  # breakpoints the stub holds
        self.locked = False  # in the lockup state (the VM is halted underneath)
        self.lockup_reason = ""
        # checks the core before it runs (the qemu: probe sets self.runnable); None: no check
        self.lockup_check: Callable[[], str | None] | None = None
        self.ids: dict[int, int] = {}
        for base, part, cls in ((ROM_TABLE, 0x4C3, CLASS_ROM_TABLE),
                                (SCS, SCS_PART.get(cpu, 0x000), CLASS_GENERIC),
                                (FPB, 0x003, CLASS_GENERIC)):
            self.ids.update({base + off: v for off, v in component_id_words(part, cls).items()})
        entries = [SCS, DWT, FPB] if dwt is not None else [SCS, FPB]
        self.ids.update({ROM_TABLE + 4 * i: _rom_entry(base) for i, base in enumerate(entries)})
        self.ids.update({ROM_TABLE + 4 * len(entries): 0, ROM_TABLE + 0xFCC: 1})

    # -- halt state --------------------------------------------------------------------------
    def _note_stop(self) -> None:
        """Take a stop the VM reported by itself (breakpoint) into DFSR."""
        stop = self.core.poll_stop()
        if stop is not None:
            self.dfsr |= DFSR_BKPT if stop.signal == 5 else DFSR_HALTED

    @property
    def halted(self) -> bool:
        with self.lock:
            self._note_stop()
            return not self.locked and not self.core.running

    # -- lockup ------------------------------------------------------------------------------
    def runnable(self) -> str | None:
        """None when the halted core can run; else why it would lock up: the HardFault
        vector (at VTOR) is blank, not Thumb code, or points at erased or absent memory — any
        fault, the first instruction of a blank chip's included, would then escalate to a
        lockup (a valid handler takes every fault, so pc need not be checked)."""
        try:
            vtor = self.core.read_u32(VTOR) & ~0x7F
        except ProtocolError:
            vtor = 0  # no VTOR (v6-M): the table is at 0
        where = f"the HardFault vector at 0x{vtor + 4 * HARDFAULT_VECTOR:08x}"
        try:
            handler = self.core.read_u32(vtor + 4 * HARDFAULT_VECTOR)
            if handler in (0, 0xFFFFFFFF) or not handler & 1:
                return (f"no HardFault handler ({where} holds 0x{handler:08x}: blank or "
                        f"erased chip?)")
            if self.core.read(handler & ~1, 2) in ERASED_HALFWORDS:
                return f"the HardFault handler at 0x{handler & ~1:08x} is erased"
        except ProtocolError as exc:
            return f"{where} or its handler cannot be read ({exc})"
        return None

    def _run_or_lock(self, step: bool = False) -> None:
        """Resume (or step) the halted core, or put it in the lockup state if it cannot run."""
        why = self.lockup_check() if self.lockup_check is not None else None
        if why is not None:
            self.locked = True
            self.lockup_reason = why
            return
        if step:
            self.core.step()
            self.dfsr |= DFSR_HALTED
        else:
            self.core.resume()

    # -- register file -----------------------------------------------------------------------
    def handles(self, address: int) -> bool:
        return (address in (DHCSR, DCRSR, DCRDR, DEMCR, DFSR, AIRCR) or address in self.ids
                or (self.dwt is not None and self.dwt.handles(address))
                or FPB <= address < FP_COMP0 + 4 * len(self.fp_comp)
                or ROM_TABLE <= address < ROM_TABLE + 0x1000)

    def read32(self, address: int) -> int | None:
        with self.lock:
            if address == DHCSR:
                return self._read_dhcsr()
            if address == DCRDR:
                return self.dcrdr
            if address == DCRSR:
                return 0
            if address == DEMCR:
                return self.demcr
            if address == DFSR:
                self._note_stop()
                return self.dfsr
            if self.dwt is not None and self.dwt.handles(address):
                return self.dwt.read32(address)
            if address in self.ids:
                return self.ids[address]
            if address == FP_CTRL:
                return self.fp_ctrl & FP_ENABLE | NUM_CODE << 4 | NUM_LIT << 8
            if address == FP_REMAP:
                return 0
            if FP_COMP0 <= address < FP_COMP0 + 4 * len(self.fp_comp):
                return self.fp_comp[(address - FP_COMP0) // 4]
            if ROM_TABLE <= address < ROM_TABLE + 0x1000:
                return 0
            return None  # AIRCR and all else: QEMU answers

    def _read_dhcsr(self) -> int:
        halted = self.halted
        value = self.dhcsr_ctrl & (C_DEBUGEN | C_STEP | C_MASKINTS)
        if self.locked:
            value |= S_LOCKUP
        elif halted:
            value |= S_HALT | C_HALT
        else:
            value |= S_RETIRE_ST
        if self.regrdy:
            value |= S_REGRDY
        if self.reset_seen:
            value |= S_RESET_ST
            self.reset_seen = False
        return value

    def write32(self, address: int, value: int) -> bool:
        with self.lock:
            if address == DHCSR:
                if value & 0xFFFF0000 == DBGKEY:
                    self._write_dhcsr(value & 0xFFFF)
                return True
            if address == DCRSR:
                self._transfer(value)
                return True
            if address == DCRDR:
                self.dcrdr = value
                return True
            if address == DEMCR:
                self.demcr = value
                if self.dwt is not None:
                    self.dwt.trace_enable(value)
                return True
            if self.dwt is not None and self.dwt.handles(address):
                self.dwt.write32(address, value)
                return True
            if address == DFSR:
                self._note_stop()
                self.dfsr &= ~value
                return True
            if address == AIRCR:
                if value & 0xFFFF0000 == VECTKEY and value & (SYSRESETREQ | VECTRESET):
                    self.system_reset()
                    return True
                return False  # other AIRCR fields: a device-register write
            if address == FP_CTRL:
                if value & FP_KEY:
                    self.fp_ctrl = value & FP_ENABLE
                    self._sync_breakpoints()
                return True
            if FP_COMP0 <= address < FP_COMP0 + 4 * len(self.fp_comp):
                self.fp_comp[(address - FP_COMP0) // 4] = value
                self._sync_breakpoints()
                return True
            return self.handles(address)  # read-only identification: writes ignored

    def _write_dhcsr(self, ctrl: int) -> None:
        self.dhcsr_ctrl = ctrl
        if self.locked:  # only a halt request (or a reset) ends a lockup
            if ctrl & C_DEBUGEN and ctrl & C_HALT:
                self.locked = False
                self.dfsr |= DFSR_HALTED
            return
        halted = self.halted
        if not ctrl & C_DEBUGEN:
            if halted:
                self._run_or_lock()
            return
        if ctrl & C_HALT:
            if not halted:
                self.core.halt()
                self._note_stop()  # a breakpoint that won the race
                self.dfsr |= DFSR_HALTED
        elif halted:
            self._run_or_lock(step=bool(ctrl & C_STEP))

    def _transfer(self, dcrsr: int) -> None:
        regsel = dcrsr & 0x7F
        self.regrdy = False
        if dcrsr & DCRSR_REGWNR:
            self.core.write_core_register(regsel, self.dcrdr)
        else:
            self.dcrdr = self.core.read_core_register(regsel)
        self.regrdy = True

    def system_reset(self) -> None:
        self.core.reset()  # leaves the VM stopped at the reset vector
        self.locked = False
        self.reset_seen = True
        self.regrdy = True
        self.inserted_after_reset()
        if self.demcr & VC_CORERESET:
            self.dfsr |= DFSR_VCATCH
        else:
            self._run_or_lock()

    def inserted_after_reset(self) -> None:
        """QEMU keeps gdbstub breakpoints across a reset, as the FPB would: nothing to redo."""

    # -- FPB ---------------------------------------------------------------------------------
    def wanted_breakpoints(self) -> set[int]:
        if not self.fp_ctrl & FP_ENABLE:
            return set()
        out = set()
        for comp in self.fp_comp[:NUM_CODE]:
            if comp & 1:
                base = comp & 0x1FFFFFFC
                replace = comp >> 30 & 3
                if replace in (1, 3):
                    out.add(base)
                if replace in (2, 3):
                    out.add(base + 2)
        return out

    def _sync_breakpoints(self) -> None:
        want = self.wanted_breakpoints()
        for addr in sorted(self.inserted - want):
            self.core.clear_breakpoint(addr)
            self.inserted.discard(addr)
        for addr in sorted(want - self.inserted):
            self.core.set_breakpoint(addr)
            self.inserted.add(addr)
