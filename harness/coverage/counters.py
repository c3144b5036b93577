"""Reading an image's arc counters out of the chip's RAM, and zeroing them.

Through the Dut's ``memory`` protocol only, so the same code serves every world that has
one (QEMU's gdbstub, a pyOCD probe). The counter arrays sit in ``.bss`` between the program's
own variables; nearby arrays are read as one span (a round trip costs more than a few bytes
more), and zeroing writes the same spans back with only the counters' bytes cleared — while
the core is held halted, so nothing the program wrote in between is undone.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass

from ..protocols import Execution, Memory
from .gcov_info import Instrumentation

# arrays closer than this many bytes are read in one span
GAP = 256


@dataclass(frozen=True)
class Span:
    address: int
    length: int
    # (offset in the span, counters, index in the vector) of each array it holds
    arrays: tuple[tuple[int, int, int], ...]


def spans(inst: Instrumentation, gap: int = GAP) -> list[Span]:
    """The spans to read for all of ``inst``'s counter arrays, in address order."""
    out: list[Span] = []
    start = end = 0
    members: list[tuple[int, int, int]] = []
    for address, count, index in sorted(inst.arrays):
        if members and address - end > gap:
            out.append(_span(start, end, members))
            members = []
        if not members:
            start = end = address
        members.append((address, count, index))
        end = max(end, address + 8 * count)
    if members:
        out.append(_span(start, end, members))
    return out


def _span(start: int, end: int, members: list[tuple[int, int, int]]) -> Span:
    return Span(start, end - start, tuple((a - start, n, i) for a, n, i in members))


@dataclass
class Reading:
    counts: list[int]
    seconds: float  # halt, read, zero, resume


class CounterReader:
    """Reads (and zeroes) one image's counters on a chip."""

    def __init__(self, inst: Instrumentation, gap: int = GAP) -> None:
        self.inst = inst
        self.spans = spans(inst, gap)

    def read(self, memory: Memory, execution: Execution | None = None,
             zero: bool = True) -> Reading:
        """The counter vector; with ``zero`` the counters are cleared after the read. The
        core is held halted throughout when there is run control (a consistent snapshot)."""
        t0 = time.perf_counter()
        if execution is not None:
            with execution.paused():
                counts = self._read(memory, zero)
        else:
            counts = self._read(memory, zero)
        return Reading(counts, time.perf_counter() - t0)

    def zero(self, memory: Memory, execution: Execution | None = None) -> None:
        self.read(memory, execution, zero=True)

    def _read(self, memory: Memory, zero: bool) -> list[int]:
        counts = [0] * self.inst.size
        for span in self.spans:
            raw = memory.read(span.address, span.length)
            dirty = False
            cleared = bytearray(raw) if zero else None
            for offset, n, index in span.arrays:
                values = struct.unpack_from(f"<{n}Q", raw, offset)
                counts[index:index + n] = values
                if cleared is not None and any(values):
                    cleared[offset:offset + 8 * n] = bytes(8 * n)
                    dirty = True
            if cleared is not None and dirty:
                memory.write(span.address, bytes(cleared))
        return counts
