"""The small interfaces every world implements. A Dut is composed of them.

A world provides what it can: QEMU gives all four; a cocotb RTL block gives Memory only; a bench
board with a probe but no serial port gives no Console. Tests declare what they need with
``@pytest.mark.requires(...)`` and are skipped, with a reason, where it is missing.
"""

from __future__ import annotations

import contextlib
import struct
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .firmware import FirmwareImage, Segment

CORE_REGISTERS = tuple(f"r{i}" for i in range(13)) + ("sp", "lr", "pc", "xpsr")


class Memory(ABC):
    """Byte-addressed access to the chip's memory map (through a debugger or a bus model)."""

    @abstractmethod
    def read(self, address: int, length: int) -> bytes: ...

    @abstractmethod
    def write(self, address: int, data: bytes) -> None: ...

    def read_u32(self, address: int) -> int:
        return struct.unpack("<I", self.read(address, 4))[0]

    def write_u32(self, address: int, value: int) -> None:
        self.write(address, struct.pack("<I", value & 0xFFFFFFFF))

    def read_u8(self, address: int) -> int:
        return self.read(address, 1)[0]

    def write_u8(self, address: int, value: int) -> None:
        self.write(address, bytes((value & 0xFF,)))


@dataclass(frozen=True)
class Halt:
    """Why and where the core stopped."""

    reason: str  # "trap" (breakpoint/step), "interrupt" (halt request), "reset", ...
    pc: int


class Execution(ABC):
    """Run control and core registers."""

    @abstractmethod
    def halt(self) -> Halt: ...

    @abstractmethod
    def resume(self) -> None: ...

    @abstractmethod
    def step(self) -> Halt: ...

    @abstractmethod
    def reset(self, halt: bool = False) -> None:
        """Reset the chip; with ``halt`` it stays stopped at the reset vector."""

    @property
    @abstractmethod
    def is_halted(self) -> bool: ...

    @abstractmethod
    def read_register(self, name: str) -> int: ...

    @abstractmethod
    def write_register(self, name: str, value: int) -> None: ...

    def registers(self, names: tuple[str, ...] = CORE_REGISTERS) -> dict[str, int]:
        return {n: self.read_register(n) for n in names}

    @abstractmethod
    def set_breakpoint(self, address: int) -> None: ...

    @abstractmethod
    def clear_breakpoint(self, address: int) -> None: ...

    @abstractmethod
    def wait_halt(self, timeout: float) -> Halt | None:
        """Wait for the running core to stop by itself (breakpoint); None on timeout."""

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Hold a running core for the body (a consistent read of several registers), then
        let it run again; a halted core stays halted."""
        if self.is_halted:
            yield
            return
        self.halt()
        try:
            yield
        finally:
            self.resume()


def image_differences(memory: Memory, image: FirmwareImage) -> list[str]:
    """Where the chip's memory differs from the image's load segments (empty: identical)."""
    return segment_differences(memory, image.segments)


def segment_differences(memory: Memory, segments: Iterable[Segment]) -> list[str]:
    """Where the chip's memory differs from these segments (empty: identical)."""
    out = []
    for seg in segments:
        got = memory.read(seg.address, len(seg.data))
        if got != seg.data:
            first = next(i for i, (a, b) in enumerate(zip(got, seg.data, strict=True)) if a != b)
            out.append(f"segment 0x{seg.address:08x}+{len(seg.data)} differs from "
                       f"0x{seg.address + first:08x}")
    return out


class Clock(ABC):
    """Chip time: what the chip's own timers count, in ns since the Dut powered on.

    Where a world has it (``requires("clock")``), it does not depend on the host: a test that
    measures a firmware timing in chip time reads the same on an idle machine and a busy one."""

    @abstractmethod
    def now(self) -> int:
        """Chip time now, ns since power-on."""

    @abstractmethod
    def sleep(self, ms: float) -> int:
        """Let the chip run until at least ``ms`` of chip time passed; the ns that passed."""

    @abstractmethod
    def run_for(self, ms: float) -> int:
        """Let the chip run for ``ms`` of chip time (resumed if halted), then halt it; the ns
        it ran (at least ``ms``; how much more is the world's to say)."""


class Loader(ABC):
    """Puts an image into the chip's non-volatile memory."""

    @abstractmethod
    def load(self, image: FirmwareImage) -> None: ...

    @abstractmethod
    def verify(self, image: FirmwareImage) -> list[str]:
        """Differences between the image and the chip (empty when identical)."""


CAPABILITIES = {
    "memory": "read and write the chip's memory",
    "execution": "halt, step, resume and reset the core",
    "registers": "read and write core registers",
    "breakpoints": "hardware breakpoints",
    "loader": "program an image into the chip",
    "console": "a text console (UART)",
    "channels": "raw byte channels (pyserial URLs) for protocol stacks such as SLCAN",
    "symbols": "typed access to firmware variables by name",
    "clock": "chip time: the chip's own clock, read exactly and run by (dut.clock)",
    # RTL blocks in a simulator (the ``rtl`` fixtures), not chips behind ``dut``
    "pins": "drive and sample the block's pins",
    "cycles": "advance simulated clock cycles",
}
