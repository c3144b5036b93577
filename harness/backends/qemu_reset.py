"""Return a running QEMU chip to power-on state — and prove it — so the next test can reuse it.

The steps, each verified; any failure raises :class:`NotClean` and the caller discards the
process (a fresh one is always correct, only slower):

1. halt the core; drop breakpoints a test left behind;
2. flash: hash it (QMP ``pmemsave``) against the image as ``-kernel`` laid it out — the
   image's extent always, the whole region (~0.8 ms for 256 KiB) when anything was written into
   it through the debugger since the last check (the only way to change an emulated chip's
   flash); re-write the differing chunks, and hash again;
3. QMP ``system_reset``: the core stops at the reset vector; check sp/pc against the vector
   table and every core register against the power-on register file of a fresh process;
4. the core runs a 40-byte routine planted at the end of RAM: it fills RAM with the target's
   ``ram_fill`` word, empties the UART RX FIFO that QEMU's reset keeps (``uart_drain``) and
   writes the power-on values of device registers QEMU's reset leaves alone
   (``reset_writes``; the debugger's own writes to device registers are dropped); then the
   routine's space is filled too and the power-on registers restored;
5. console: nothing of ours still unread by QEMU (else the console is stuck), everything QEMU
   sent already read, then the buffer is cleared.
"""

from __future__ import annotations

import array
import fcntl
import hashlib
import struct
import termios
import time
from dataclasses import dataclass, field
from functools import cached_property

from ..config import MemoryRegion, Target
from ..errors import HarnessError
from ..firmware import VERSION_SIZE, FirmwareImage, VersionInfo

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
SIOCOUTQ = termios.TIOCOUTQ
FIONREAD = termios.FIONREAD


def reset_vectors(image: FirmwareImage, target: Target) -> tuple[int, int]:
    """Initial sp and pc from the image's vector table: at 0, or at the start of the first
    flash region (STM32: flash at 0x08000000, aliased at 0 for boot)."""
    base = 0 if any(s.address == 0 for s in image.segments) else target.region("flash")[0].start
    sp, pc = struct.unpack("<II", image.read_static(base, 8))
    return sp, pc & ~1


class NotClean(HarnessError):
    """The chip could not be proven to be at power-on state."""


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


def queued_bytes(sock, request: int) -> int:
    buf = array.array("i", [0])
    fcntl.ioctl(sock.fileno(), request, buf)
    return buf[0]


@dataclass
class Resetter:
    """The clean-up procedure for one target + image (state shared by all its processes)."""

    target: Target
    image: FirmwareImage
    power_on_registers: bytes | None = None  # ``g`` block of a fresh process at -S
    version: VersionInfo | None = None  # read back from flash by the last clean
    timings: dict[str, float] = field(default_factory=dict)

    @cached_property
    def flash(self) -> list[FlashLayout]:
        return [FlashLayout(r, self.image) for r in self.target.region("flash")]

    @cached_property
    def vectors(self) -> tuple[int, int]:
        return reset_vectors(self.image, self.target)

    def record_power_on(self, backend) -> None:
        """Remember a fresh (``-S``, never run) process's registers as the reference."""
        block = backend.rsp.read_all_registers()
        if (_u32(block, SP), _u32(block, PC)) != self.vectors:
            raise NotClean(f"{backend.name}: a fresh QEMU does not start at the reset vector "
                           f"(sp=0x{_u32(block, SP):08x} pc=0x{_u32(block, PC):08x})")
        if self.power_on_registers is None:
            self.power_on_registers = block

    def clean(self, backend) -> None:
        t0 = time.perf_counter()
        rsp, qmp = backend.rsp, backend.qmp
        self.version = None
        if not backend.alive:
            raise NotClean(backend.diagnosis())
        try:
            with rsp.lock:
                rsp.halt()
                rsp.clear_all_breakpoints()
                written, rsp.written = rsp.written, None
                for layout in self.flash:
                    self._check_flash(backend, layout, written)
                qmp.execute("system_reset")
                rsp.conn.drain()  # a stop reply may or may not follow the reset
                rsp.running = False
                self._check_reset(backend)
                self._scrub_ram(backend)
                self._settle_consoles(backend)
                rsp.written = None
        except NotClean:
            raise
        except Exception as exc:  # a protocol error or a dead peer: not provably clean
            raise NotClean(f"{backend.name}: reset failed: {exc}") from exc
        self.timings["clean"] = time.perf_counter() - t0

    # -- steps -------------------------------------------------------------------------------
    def flash_sha256(self, backend, region: MemoryRegion) -> tuple[str, bytes]:
        path = backend.process.rundir / f"{region.name}.bin"
        backend.qmp.execute("pmemsave", val=region.start, size=region.size, filename=str(path))
        data = path.read_bytes()
        path.unlink()
        return hashlib.sha256(data).hexdigest(), data

    def _check_flash(self, backend, layout: FlashLayout, written) -> None:
        region = layout.region
        touched = written is not None and written[0] < region.end and written[1] > region.start
        if not touched:
            lo, hi = layout.extent
            path = backend.process.rundir / f"{region.name}.bin"
            backend.qmp.execute("pmemsave", val=region.start + lo, size=hi - lo,
                                filename=str(path))
            dump = path.read_bytes()
            path.unlink()
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
        sym = self.image.symbols.get(self.image.version_symbol)
        self.version = None
        if sym is not None and base <= sym.address and sym.address + VERSION_SIZE <= \
                base + len(dump):
            off = sym.address - base
            self.version = VersionInfo.unpack(dump[off:off + VERSION_SIZE],
                                              f"{self.image.path.name}: version block in flash")

    def _check_reset(self, backend) -> None:
        block = backend.rsp.read_all_registers()
        got = (_u32(block, SP), _u32(block, PC))
        if got != self.vectors:
            raise NotClean(f"{backend.name}: reset did not land on the reset vector: "
                           f"sp=0x{got[0]:08x} pc=0x{got[1]:08x}, vector table says "
                           f"sp=0x{self.vectors[0]:08x} pc=0x{self.vectors[1]:08x}")
        if self.power_on_registers is not None and block != self.power_on_registers:
            raise NotClean(f"{backend.name}: core registers after reset differ from a fresh "
                           f"process's: {block.hex()} != {self.power_on_registers.hex()}")

    def _scrub_ram(self, backend) -> None:
        rsp = backend.rsp
        q = self.target.qemu
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

    def _run(self, backend, base: int, regs: bytes, fill: tuple[int, int], drain: list,
             table: tuple[int, int]) -> None:
        rsp = backend.rsp
        d = drain[0] if drain else None
        values = [fill[0], fill[1], self.target.qemu.ram_fill,
                  d.status if d else 0, d.data if d else 0, d.mask if d else 0,
                  d.empty if d else 0, 0, table[0], table[1]]
        block = bytearray(regs)
        for n, v in enumerate(values):
            struct.pack_into("<I", block, 4 * n, v)
        struct.pack_into("<I", block, PC, base)
        struct.pack_into("<I", block, XPSR, 0x01000000)  # Thumb state
        rsp.write_all_registers(bytes(block))
        stop = rsp.run_to(base + DONE, timeout=2.0)
        if stop is None:
            raise NotClean(f"{backend.name}: the RAM scrub routine did not finish")
        if stop.reason != "trap":  # only the breakpoint at `done` can trap: no stepping here
            raise NotClean(f"{backend.name}: the RAM scrub routine stopped: {stop.reason}")

    @staticmethod
    def _fifo_empty(backend, drain) -> bool:
        status = int.from_bytes(backend.rsp.read_memory(drain.status, 4), "little")
        return status & drain.mask == drain.empty

    @staticmethod
    def _unread_by_chip(backend) -> int:
        return sum(queued_bytes(backend.process.consoles[n], SIOCOUTQ) for n in backend.consoles)

    def _settle_consoles(self, backend) -> None:
        for name, con in backend.consoles.items():
            sock = backend.process.consoles[name]
            if queued_bytes(sock, SIOCOUTQ):
                raise NotClean(f"{backend.name}: console {name!r} is stuck: "
                               f"{queued_bytes(sock, SIOCOUTQ)} bytes sent to the chip were never "
                               f"read")
            deadline = time.monotonic() + 0.5
            while queued_bytes(sock, FIONREAD):
                if time.monotonic() > deadline:
                    raise NotClean(f"{backend.name}: console {name!r} output does not drain")
                time.sleep(0.0005)
            con.clear()


# -- proof: compare a chip with one from a brand-new process ---------------------------------
REGISTER_NAMES = [f"r{i}" for i in range(13)] + ["sp", "lr", "pc", "xpsr"]


def snapshot(backend, target: Target) -> dict[str, dict]:
    """Everything observable of a halted chip without side effects: core registers, every
    memory region, and every register of the target's SVD file that can be read without side
    effects (the device registers compared are those the SVD describes)."""
    block = backend.rsp.read_all_registers()
    regs = {n: _u32(block, 4 * i) for i, n in enumerate(REGISTER_NAMES)}
    memory = {}
    for region in target.memory:
        if region.kind == "device":
            continue
        path = backend.process.rundir / f"snap-{region.name}.bin"
        backend.qmp.execute("pmemsave", val=region.start, size=region.size, filename=str(path))
        memory[region.name] = path.read_bytes()
        path.unlink()
    devices = {}
    if target.svd is not None:
        from ..regs import load_svd

        for periph in load_svd(target.svd).peripherals.values():
            for reg in periph.registers.values():
                if reg.observable:
                    devices[f"{reg.path} (0x{reg.address:08x})"] = int.from_bytes(
                        backend.rsp.read_memory(reg.address, reg.size // 8), "little")
    return {"registers": regs, "memory": memory, "devices": devices}


def differences(got: dict, fresh: dict, target: Target) -> list[str]:
    """Human-readable differences between two snapshots (empty when identical)."""
    out = []
    for name, value in fresh["registers"].items():
        if got["registers"][name] != value:
            out.append(f"register {name}: 0x{got['registers'][name]:08x}, fresh process "
                       f"0x{value:08x}")
    starts = {r.name: r.start for r in target.memory}
    for name, data in fresh["memory"].items():
        mine = got["memory"][name]
        if mine != data:
            diff = [i for i in range(len(data)) if mine[i] != data[i]]
            first = diff[0]
            out.append(f"memory {name}: {len(diff)} bytes differ, first at "
                       f"0x{starts[name] + first:08x} (0x{mine[first]:02x}, fresh "
                       f"0x{data[first]:02x})")
    for addr, value in fresh["devices"].items():
        if got["devices"][addr] != value:
            out.append(f"device register {addr}: 0x{got['devices'][addr]:08x}, fresh "
                       f"process 0x{value:08x}")
    return out
