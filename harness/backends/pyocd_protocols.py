"""The Dut protocols on a pyOCD session: memory, run control and registers, the loader.

They ask the backend that owns the session (:class:`harness.backends.pyocd.PyocdBackend`) for
three things only — the session, the probe's id, and whether it is still alive — and turn
pyOCD's errors into harness errors that name the probe and the step.
"""

from __future__ import annotations

import functools
import struct
import time
from typing import Any, Protocol

from .. import patience
from ..errors import DutLost, FirmwareError, HarnessError
from ..firmware import FirmwareImage
from ..protocols import CORE_REGISTERS, Execution, Halt, Loader, Memory, image_differences


class SessionOwner(Protocol):
    """What the protocols need of the backend holding the pyOCD session."""

    uid: str

    @property
    def session(self) -> Any: ...

    @property
    def alive(self) -> bool: ...

    def diagnosis(self) -> str: ...


def _translate(what: str):
    """Method decorator: pyOCD errors become harness errors naming the probe and the step."""

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(self, *args, **kwargs):
            from pyocd.core import exceptions

            try:
                return fn(self, *args, **kwargs)
            except exceptions.ProbeDisconnected as exc:
                raise DutLost(f"probe {self.backend.uid}: lost during {what}: {exc}\n"
                              f"{self.backend.diagnosis()}") from None
            except exceptions.Error as exc:
                if not self.backend.alive:
                    raise DutLost(f"probe {self.backend.uid}: lost during {what}: {exc}\n"
                                  f"{self.backend.diagnosis()}") from None
                raise HarnessError(f"probe {self.backend.uid}: {what} failed: {exc}") from None
        return wrapper
    return deco


class PyocdMemory(Memory):
    def __init__(self, backend: SessionOwner) -> None:
        self.backend = backend

    @property
    def target(self):
        return self.backend.session.target

    # Aligned words go as 32-bit transfers, only the unaligned ends as bytes: a peripheral
    # register takes word accesses (a byte store to it is dropped or lands in the wrong lane,
    # a byte read of a FIFO pops it four times).
    @_translate("memory read")
    def read(self, address: int, length: int) -> bytes:
        out = bytearray()
        for addr, n, words in _spans(address, length):
            if words:
                out += struct.pack(f"<{n // 4}I", *self.target.read_memory_block32(addr, n // 4))
            else:
                out += bytes(self.target.read_memory_block8(addr, n))
        return bytes(out)

    @_translate("memory write")
    def write(self, address: int, data: bytes) -> None:
        data = bytes(data)
        for addr, n, words in _spans(address, len(data)):
            chunk = data[addr - address:addr - address + n]
            if words:
                self.target.write_memory_block32(addr, list(struct.unpack(f"<{n // 4}I", chunk)))
            else:
                self.target.write_memory_block8(addr, chunk)


def _spans(address: int, length: int) -> list[tuple[int, int, bool]]:
    """[(address, length, as_words)]: unaligned head bytes, aligned words, tail bytes."""
    end = address + length
    lo, hi = min(-(-address // 4) * 4, end), max(end // 4 * 4, address)
    if hi <= lo:
        return [(address, length, False)] if length else []
    spans = [(address, lo - address, False), (lo, hi - lo, True), (hi, end - hi, False)]
    return [s for s in spans if s[1]]


_REASONS = {"BREAKPOINT": "trap", "WATCHPOINT": "watchpoint", "VECTOR_CATCH": "reset",
            "EXTERNAL": "interrupt"}


class PyocdExecution(Execution):
    """Run control, core registers and hardware breakpoints through pyOCD's CortexM."""

    def __init__(self, backend: SessionOwner, poll: float = 0.0005) -> None:
        self.backend = backend
        self.poll = poll
        self._last = "interrupt"  # why the core last stopped, as far as we caused it

    @property
    def target(self):
        return self.backend.session.target

    def _halt_info(self, default: str) -> Halt:
        """DFSR says breakpoint/vector catch; a plain HALTED is a halt request or a step, which
        only the caller knows (``default``)."""
        reason = self.target.get_halt_reason()
        self._last = _REASONS.get(getattr(reason, "name", ""), default)
        return Halt(self._last, self.target.read_core_register("pc"))

    @_translate("halt")
    def halt(self) -> Halt:
        if self.target.is_halted():
            return self._halt_info(self._last)
        self.target.halt()
        return self._halt_info("interrupt")

    @_translate("resume")
    def resume(self) -> None:
        self.target.resume()

    @_translate("step")
    def step(self) -> Halt:
        if not self.target.is_halted():
            self.target.halt()
        self.target.step()
        self._last = "trap"
        return Halt("trap", self.target.read_core_register("pc"))

    @_translate("reset")
    def reset(self, halt: bool = False) -> None:
        if halt:
            self.target.reset_and_halt()
            self._last = "reset"
        else:
            self.target.reset()

    @property
    @_translate("state query")
    def is_halted(self) -> bool:
        return self.target.is_halted()

    @_translate("register read")
    def read_register(self, name: str) -> int:
        return self.target.read_core_register(name.lower())

    @_translate("register write")
    def write_register(self, name: str, value: int) -> None:
        self.target.write_core_register(name.lower(), value)

    @_translate("register read")
    def registers(self, names: tuple[str, ...] = CORE_REGISTERS) -> dict[str, int]:
        was_halted = self.target.is_halted()
        if not was_halted:
            self.target.halt()
        try:
            values = self.target.read_core_registers_raw([n.lower() for n in names])
        finally:
            if not was_halted:
                self.target.resume()
        return dict(zip(names, values, strict=True))

    @_translate("breakpoint")
    def set_breakpoint(self, address: int) -> None:
        from pyocd.core.target import Target as PyocdTarget

        if not self.target.set_breakpoint(address & ~1, PyocdTarget.BreakpointType.HW):
            raise HarnessError(f"probe {self.backend.uid}: no free hardware breakpoint for "
                               f"0x{address:08x}")
        self.target.selected_core.bp_manager.flush()  # pyOCD applies them lazily (on resume)

    @_translate("breakpoint removal")
    def clear_breakpoint(self, address: int) -> None:
        self.target.remove_breakpoint(address & ~1)
        self.target.selected_core.bp_manager.flush()

    @_translate("wait for halt")
    def wait_halt(self, timeout: float) -> Halt | None:
        deadline = time.monotonic() + patience.scaled(timeout)
        while not self.target.is_halted():
            if time.monotonic() >= deadline:
                return None
            time.sleep(self.poll)
        return self._halt_info("trap")


def _quiet(_fraction: float) -> None:
    """FileProgrammer progress: nothing on the terminal (pytest captures; logs say enough)."""


class PyocdLoader(Loader):
    """FileProgrammer for the image, then a read-back verify of every load segment."""

    def __init__(self, backend: SessionOwner, memory: Memory) -> None:
        self.backend = backend
        self.memory = memory
        self.loaded: FirmwareImage | None = None  # programmed and verified, core reset-halted

    @_translate("flash programming")
    def load(self, image: FirmwareImage) -> None:
        from pyocd.flash.file_programmer import FileProgrammer

        target = self.backend.session.target
        if not target.is_halted():
            target.halt()
        if not self.verify(image):
            # the chip holds this image already (a bench keeps its flash between runs): one
            # read instead of an erase, a write and a read, and no flash wear
            target.reset_and_halt()
            self.loaded = image
            return
        extra = {"base_address": image.load_address} if image.format == "bin" else {}
        FileProgrammer(self.backend.session, progress=_quiet).program(
            str(image.path), file_format=image.format, **extra)
        if problems := self.verify(image):
            raise FirmwareError(f"{image.path.name}: verify after flashing through probe "
                                f"{self.backend.uid} failed: " + "; ".join(problems))
        target.reset_and_halt()
        self.loaded = image

    def verify(self, image: FirmwareImage) -> list[str]:
        return image_differences(self.memory, image)

    @_translate("mass erase")
    def mass_erase(self) -> None:
        from pyocd.flash.eraser import FlashEraser

        FlashEraser(self.backend.session, FlashEraser.Mode.CHIP).erase()
        self.loaded = None
