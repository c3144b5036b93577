"""Return a running QEMU chip to power-on state — and prove it — so the next test can reuse it.

The qemu pool's clean-up procedure (:class:`Resetter`). The steps, each verified; any failure
raises :class:`~harness.backends.clean.NotClean` and the caller discards the process (a fresh
one is always correct, only slower):

1. halt the core; drop breakpoints a test left behind;
2. flash: hash it (QMP ``pmemsave``) against the image as ``-kernel`` laid it out — the
   image's extent always, the whole region (~0.8 ms for 256 KiB) when anything was written into
   it since the last check (:class:`WrittenSpan` hears every write of the backend's memory, the
   only way to change an emulated chip's flash); re-write the differing chunks, and hash again;
3. QMP ``system_reset``: the core stops at the reset vector; check sp/pc against the vector
   table and every core register against the power-on register file of a fresh process;
4. the core runs a 40-byte routine planted at the end of RAM: it fills RAM with the target's
   ``ram_fill`` word, empties the UART RX FIFO that QEMU's reset keeps (``uart_drain``) and
   writes the power-on values of device registers QEMU's reset leaves alone
   (``reset_writes``; the debugger's own writes to device registers are dropped); then the
   routine's space is filled too and the power-on registers restored;
5. console: nothing of ours still unread by QEMU (else the console is stuck), everything QEMU
   sent already read, then the buffer is cleared.

The proof that this works — a reused chip compared with one from a brand-new process — is
:mod:`harness.testing.pool_proof`.
"""

from __future__ import annotations

import hashlib
import struct
import time
import weakref
from dataclasses import dataclass, field
from functools import cached_property

from .. import patience
from ..config import MemoryRegion, QemuWorld, Target, UartDrain
from ..emu.sockets import unread_by_peer
from ..firmware import VERSION_SIZE, FirmwareImage, VersionInfo
from .clean import NotClean, reset_vectors, settle_console
from .qemu import QemuBackend

# The routine the core runs to clean itself (Thumb; tests/unit/test_qemu_reset.py assembles
# the source below and compares):
#     mov r7,r2
#   fill:  cmp r0,r1; bhs drain; stmia r0!,{r2,r7}; b fill          @ RAM [r0,r1) := r2
#   drain: cbz r3,poke                                               @ r3: UART status reg
#   dloop: ldr r7,[r3]; ands r7,r5; cmp r7,r6; beq poke; ldr r7,[r4]; b dloop
#   poke:  mov r0,r8; mov r1,r9                                      @ (address, value) pairs
#   ploop: cmp r0,r1; bhs done; ldmia r0!,{r2,r3}; str r3,[r2]; b ploop
#   done:  b done                                                    @ hardware breakpoint
ROUTINE = bytes.fromhex("1746884201d284c0fbe72bb11f682f40b74201d02768f9e7404649468842"
                        "02d20cc81360fae7fee7")
DONE, TABLE_AT = 0x26, 64
PC, SP, XPSR = 60, 52, 64  # offsets in QEMU's M-profile ``g`` block (r0..r15, xpsr)
EVERYTHING = (0, 1 << 32)


def _u32(block: bytes, off: int) -> int:
    return struct.unpack_from("<I", block, off)[0]


@dataclass
class FlashLayout:
    """What a flash region holds right after QEMU loaded the image with ``-kernel``."""

    region: MemoryRegion
    image: FirmwareImage

    @cached_property
    def expected(self) -> bytes:
        buf = bytearray(self.region.size)
        for seg in self.image.segments:
            if self.region.contains(seg.address, len(seg.data)):
                off = seg.address - self.region.start
                buf[off:off + len(seg.data)] = seg.data
        return bytes(buf)

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.expected).hexdigest()

    @cached_property
    def extent(self) -> tuple[int, int]:
        """Offsets [lo, hi) of the region the image occupies."""
        spans = [(s.address - self.region.start, s.address - self.region.start + len(s.data))
                 for s in self.image.segments if self.region.contains(s.address, len(s.data))]
        if not spans:
            return 0, 0
        return min(a for a, _ in spans), max(b for _, b in spans)

    @cached_property
    def extent_sha256(self) -> str:
        lo, hi = self.extent
        return hashlib.sha256(self.expected[lo:hi]).hexdigest()


class WrittenSpan:
    """[lowest, highest) address written to one chip since the last :meth:`take`."""

    def __init__(self) -> None:
        self.span: tuple[int, int] | None = None

    def note(self, address: int, length: int) -> None:
        lo, hi = self.span or (address, address + length)
        self.span = (min(lo, address), max(hi, address + length))

    def take(self) -> tuple[int, int] | None:
        span, self.span = self.span, None
        return span


@dataclass
class Resetter:
    """The clean-up procedure for one target + image (state shared by all its processes)."""

    target: Target
    image: FirmwareImage
    power_on_registers: bytes | None = None  # ``g`` block of a fresh process at -S
    version: VersionInfo | None = None  # read back from flash by the last clean
    timings: dict[str, float] = field(default_factory=dict)
    _written: weakref.WeakKeyDictionary[QemuBackend, WrittenSpan] = field(
        default_factory=weakref.WeakKeyDictionary, init=False, repr=False)

    @cached_property
    def qemu(self) -> QemuWorld:
        if self.target.qemu is None:
            raise NotClean(f"target {self.target.name!r} has no 'qemu' section")
        return self.target.qemu

    @cached_property
    def flash(self) -> list[FlashLayout]:
        return [FlashLayout(r, self.image) for r in self.target.region("flash")]

    @cached_property
    def vectors(self) -> tuple[int, int]:
        return reset_vectors(self.image, self.target)

    def record_power_on(self, backend: QemuBackend) -> None:
        """Remember a fresh (``-S``, never run) process's registers as the reference, and
        start tracking what is written to its memory."""
        block = backend.rsp.read_all_registers()
        if (_u32(block, SP), _u32(block, PC)) != self.vectors:
            raise NotClean(f"{backend.name}: a fresh QEMU does not start at the reset vector "
                           f"(sp=0x{_u32(block, SP):08x} pc=0x{_u32(block, PC):08x})")
        if self.power_on_registers is None:
            self.power_on_registers = block
        span = self._written[backend] = WrittenSpan()
        backend.memory.on_write = span.note

    def clean(self, backend: QemuBackend) -> None:
        t0 = time.perf_counter()
        rsp, qmp = backend.rsp, backend.qmp
        self.version = None
        if not backend.alive:
            raise NotClean(backend.diagnosis())
        span = self._written.get(backend)
        try:
            with rsp.lock:
                rsp.halt()
                rsp.clear_all_breakpoints()
                # an untracked chip may have had anything written: check all of its flash
                written = span.take() if span is not None else EVERYTHING
                for layout in self.flash:
                    self._check_flash(backend, layout, written)
                rsp.reset_halted(qmp.system_reset)
                self._check_reset(backend)
                self._scrub_ram(backend)
                self._settle_consoles(backend)
        except NotClean:
            raise
        except Exception as exc:  # a protocol error or a dead peer: not provably clean
            raise NotClean(f"{backend.name}: reset failed: {exc}") from exc
        self.timings["clean"] = time.perf_counter() - t0

    # -- steps -------------------------------------------------------------------------------
    @staticmethod
    def flash_sha256(backend: QemuBackend, region: MemoryRegion) -> tuple[str, bytes]:
        data = backend.qmp.dump(region.start, region.size)
        return hashlib.sha256(data).hexdigest(), data

    def _check_flash(self, backend: QemuBackend, layout: FlashLayout,
                     written: tuple[int, int] | None) -> None:
        region = layout.region
        touched = written is not None and written[0] < region.end and written[1] > region.start
        if not touched:
            lo, hi = layout.extent
            dump = backend.qmp.dump(region.start + lo, hi - lo)
            if hashlib.sha256(dump).hexdigest() == layout.extent_sha256:
                self._remember_version(region.start + lo, dump)
                return
        sha, data = self.flash_sha256(backend, layout.region)
        if sha == layout.sha256:
            return
        chunk = 2048
        for off in range(0, layout.region.size, chunk):
            want = layout.expected[off:off + chunk]
            if data[off:off + chunk] != want:
                backend.rsp.write_memory(layout.region.start + off, want)
        if self.flash_sha256(backend, layout.region)[0] != layout.sha256:
            raise NotClean(f"{backend.name}: flash region {layout.region.name!r} differs from "
                           f"{self.image.path.name} even after re-writing it")

    def _remember_version(self, base: int, dump: bytes) -> None:
        """The version block as read back from the chip's flash in this check."""
        sym = (self.image.symbols.get(self.image.version_symbol)
               if self.image.version_symbol else None)
        self.version = None
        if sym is not None and base <= sym.address and sym.address + VERSION_SIZE <= \
                base + len(dump):
            off = sym.address - base
            self.version = VersionInfo.unpack(dump[off:off + VERSION_SIZE],
                                              f"{self.image.path.name}: version block in flash")

    def _check_reset(self, backend: QemuBackend) -> None:
        block = backend.rsp.read_all_registers()
        got = (_u32(block, SP), _u32(block, PC))
        if got != self.vectors:
            raise NotClean(f"{backend.name}: reset did not land on the reset vector: "
                           f"sp=0x{got[0]:08x} pc=0x{got[1]:08x}, vector table says "
                           f"sp=0x{self.vectors[0]:08x} pc=0x{self.vectors[1]:08x}")
        if self.power_on_registers is not None and block != self.power_on_registers:
            raise NotClean(f"{backend.name}: core registers after reset differ from a fresh "
                           f"process's: {block.hex()} != {self.power_on_registers.hex()}")

    def _scrub_ram(self, backend: QemuBackend) -> None:
        rsp = backend.rsp
        q = self.qemu
        regs = self.power_on_registers or rsp.read_all_registers()
        rams = self.target.region("ram")
        table = b"".join(struct.pack("<II", w.address, w.value) for w in q.reset_writes)
        space = -(-(TABLE_AT + len(table)) // 64) * 64  # the routine and its table, at the
        base = rams[0].end - space                       # end of RAM; filled afterwards
        rsp.write_memory(base, ROUTINE + bytes(TABLE_AT - len(ROUTINE)) + table)
        drains = list(q.uart_drain)
        queued = self._unread_by_chip(backend)  # bytes a test sent that QEMU has not taken
        # one run: RAM below the routine, the first UART's FIFO, the device registers
        self._run(backend, base, regs, (rams[0].start, base), drains[:1],
                  (base + TABLE_AT, base + TABLE_AT + len(table)))
        for ram in rams[1:]:
            self._run(backend, base, regs, (ram.start, ram.end), [], (0, 0))
        for drain in drains:
            for _attempt in range(8):  # QEMU refills the FIFO from bytes a test left queued
                if not queued and drain is drains[0]:
                    break  # nothing could arrive after the routine emptied the FIFO
                if self._fifo_empty(backend, drain) and not self._unread_by_chip(backend):
                    break
                self._run(backend, base, regs, (0, 0), [drain], (0, 0))
            else:
                raise NotClean(f"{backend.name}: UART at 0x{drain.data:08x} keeps receiving "
                               f"bytes sent before the reset (stuck console)")
        rsp.write_memory(base, q.ram_fill.to_bytes(4, "little") * (space // 4))
        rsp.write_all_registers(regs)

    def _run(self, backend: QemuBackend, base: int, regs: bytes, fill: tuple[int, int],
             drain: list[UartDrain], table: tuple[int, int]) -> None:
        rsp = backend.rsp
        d = drain[0] if drain else None
        values = [fill[0], fill[1], self.qemu.ram_fill,
                  d.status if d else 0, d.data if d else 0, d.mask if d else 0,
                  d.empty if d else 0, 0, table[0], table[1]]
        block = bytearray(regs)
        for n, v in enumerate(values):
            struct.pack_into("<I", block, 4 * n, v)
        struct.pack_into("<I", block, PC, base)
        struct.pack_into("<I", block, XPSR, 0x01000000)  # Thumb state
        rsp.write_all_registers(bytes(block))
        stop = rsp.run_to(base + DONE, timeout=patience.factored(2.0))
        if stop is None:
            raise NotClean(f"{backend.name}: the RAM scrub routine did not finish")
        if stop.reason != "trap":  # only the breakpoint at `done` can trap: no stepping here
            raise NotClean(f"{backend.name}: the RAM scrub routine stopped: {stop.reason}")

    @staticmethod
    def _fifo_empty(backend: QemuBackend, drain: UartDrain) -> bool:
        status = int.from_bytes(backend.rsp.read_memory(drain.status, 4), "little")
        return status & drain.mask == drain.empty

    @staticmethod
    def _unread_by_chip(backend: QemuBackend) -> int:
        return sum(unread_by_peer(backend.process.consoles[n]) for n in backend.consoles)

    @staticmethod
    def _settle_consoles(backend: QemuBackend) -> None:
        for name, con in backend.consoles.items():
            settle_console(backend.name, name, con, backend.process.consoles[name])
