"""The chip as QEMU's gdbstub shows it: run control, core registers by DCRSR number, reset,
and memory writes that reach device registers.

QEMU quirks handled here (see DESIGN.md): every access to a running VM is halt → access →
continue, and a stop that was already pending (a breakpoint hit) is kept, not resumed over;
debugger writes to device registers are dropped by QEMU, so they are done by planting a store
instruction in scratch RAM and single-stepping it; ``monitor system_reset`` leaves the VM
stopped at its reset vector. Registers QEMU 7.2 does not expose (MSP, PSP, CONTROL...) are
derived where the architecture allows it and otherwise read as 0 (listed in ``derived``).
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from ..emu import store
from ..emu.rsp import RspClient, StopReply
from ..errors import HarnessError

# DCRSR.REGSEL → gdb register name
REGSEL_NAMES = {**{i: f"r{i}" for i in range(13)}, 13: "sp", 14: "lr", 15: "pc", 16: "xpsr",
                17: "msp", 18: "psp", 20: "cfbp", 33: "fpscr",
                **{64 + i: f"s{i}" for i in range(32)}}

@dataclass(frozen=True)
class Region:
    start: int
    size: int

    def contains(self, address: int, length: int = 1) -> bool:
        return self.start <= address and address + length <= self.start + self.size


class GdbCore:
    """One core behind a gdbstub. Thread-safe through the client's lock.

    ``writable``: regions where the stub's memory writes land (RAM, flash/ROM); a write
    elsewhere is a device-register write, done by a planted store at ``scratch`` (RAM).
    """

    def __init__(self, rsp: RspClient, writable: list[Region], scratch: int, name: str) -> None:
        self.rsp = rsp
        self.writable = writable
        self.scratch = scratch
        self.name = name
        self.lock = rsp.lock
        self.pending_stop: StopReply | None = None  # a stop seen while doing something else
        self.derived: set[str] = set()

    # -- state -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.rsp.running

    def poll_stop(self) -> StopReply | None:
        """A stop the running VM reported by itself (breakpoint), without waiting."""
        with self.lock:
            if self.pending_stop is not None:
                stop, self.pending_stop = self.pending_stop, None
                return stop
            return self.rsp.poll_stop()

    def wait_stop(self, timeout: float) -> StopReply | None:
        with self.lock:
            if self.pending_stop is not None:
                stop, self.pending_stop = self.pending_stop, None
                return stop
        return self.rsp.wait_stop(timeout) if self.rsp.running else None

    # -- run control -------------------------------------------------------------------------
    def halt(self) -> StopReply:
        with self.lock:
            was_running = self.rsp.running
            stop = self.rsp.halt()
            if was_running and stop.signal != 2:
                self.pending_stop = stop  # it stopped by itself before our request
            return stop

    def resume(self) -> None:
        with self.lock:
            self.pending_stop = None
            self.rsp.cont()

    def step(self) -> StopReply:
        with self.lock:
            self.pending_stop = None
            return self.rsp.step()

    def reset(self) -> None:
        """System reset; the VM stays stopped at the reset vector."""
        with self.lock:
            self.pending_stop = None
            self.rsp.reset_halted()  # monitor system_reset

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Halt a running VM for the body; resume after unless it had stopped by itself."""
        with self.lock:
            if not self.rsp.running:
                yield
                return
            stop = self.halt()
            try:
                yield
            finally:
                if stop.signal == 2 and self.pending_stop is None:
                    self.rsp.cont()

    # -- registers ---------------------------------------------------------------------------
    def read_core_register(self, regsel: int) -> int:
        name = REGSEL_NAMES.get(regsel)
        if name is None:
            raise HarnessError(f"{self.name}: no core register with DCRSR number {regsel}")
        with self.paused():
            if name in self.rsp.registers:
                return self.rsp.read_register(name)
            if name.startswith("s") and name[1:].isdigit():
                n = int(name[1:])
                d = self.rsp.read_register(f"d{n // 2}")
                return d >> 32 if n % 2 else d & 0xFFFFFFFF
            self.derived.add(name)
            if name == "msp":  # Thread mode on the main stack (CONTROL.SPSEL = 0): MSP = SP
                return self.rsp.read_register("sp")
            return 0

    def write_core_register(self, regsel: int, value: int) -> None:
        name = REGSEL_NAMES.get(regsel)
        if name is None:
            raise HarnessError(f"{self.name}: no core register with DCRSR number {regsel}")
        with self.paused():
            if name in self.rsp.registers:
                self.rsp.write_register(name, value)
            elif name.startswith("s") and name[1:].isdigit():
                n = int(name[1:])
                d = self.rsp.read_register(f"d{n // 2}")
                d = (d & 0xFFFFFFFF) | value << 32 if n % 2 else (d & ~0xFFFFFFFF) | value
                self.rsp.write_register(f"d{n // 2}", d)
            elif name == "msp":
                self.derived.add(name)
                self.rsp.write_register("sp", value)
            else:
                raise HarnessError(f"{self.name}: QEMU's gdbstub cannot write register {name}")

    # -- breakpoints -------------------------------------------------------------------------
    def set_breakpoint(self, address: int) -> None:
        with self.paused():
            self.rsp.set_breakpoint(address)

    def clear_breakpoint(self, address: int) -> None:
        with self.paused():
            self.rsp.clear_breakpoint(address)

    # -- memory ------------------------------------------------------------------------------
    def read(self, address: int, length: int) -> bytes:
        with self.paused():
            return self.rsp.read_memory(address, length)

    def write(self, address: int, data: bytes, size: int = 4) -> None:
        with self.paused():
            if any(r.contains(address, len(data)) for r in self.writable):
                self.rsp.write_memory(address, data)
            else:
                store.device_write(self.rsp, self.scratch, address, data, size, self.name)

    def store_table(self, writes: list[tuple[int, int]]) -> None:
        """Word stores to device registers in one run of a just-reset core."""
        with self.paused():
            store.store_table(self.rsp, self.scratch, writes, self.name)

    def store(self, address: int, value: int, size: int = 4) -> None:
        """A device-register write by the core (see :mod:`harness.emu.store`)."""
        with self.paused():
            store.store(self.rsp, self.scratch, address, value, size, self.name)

    def read_u32(self, address: int) -> int:
        return struct.unpack("<I", self.read(address, 4))[0]
