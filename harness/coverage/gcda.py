"""``.gcda`` files, written on the host from counters read off the chip.

The format GCC 12's libgcov writes (``write_one_data``), little-endian 32-bit words, record
lengths in bytes::

    'gcda' magic, version, stamp, checksum           (the unit's gcov_info record)
    OBJECT_SUMMARY  tag 0xa1000000, length 8: runs, sum_max (largest arc count of the program)
    per function:
      FUNCTION      tag 0x01000000, length 12: ident, lineno_checksum, cfg_checksum
                    (length 0 and nothing else for a discarded copy)
      ARC_COUNTS    tag 0x01a10000, length 8*n: n 64-bit counts as (low, high) words
                    (all zero: length -8*n and no values)
    0                                                  end

:func:`decode` reads it back, for merging and for tests.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..errors import FirmwareError
from .gcov_info import Unit

MAGIC = 0x67636461  # "gcda"
TAG_FUNCTION = 0x01000000
TAG_ARCS = 0x01A10000
TAG_SUMMARY = 0xA1000000
FUNCTION_LENGTH = 12
SUMMARY_LENGTH = 8


def encode(unit: Unit, counts: Sequence[int], runs: int = 1, sum_max: int | None = None) -> bytes:
    """The ``.gcda`` of ``unit`` for its counters ``counts`` (``unit.count`` of them)."""
    if len(counts) != unit.count:
        raise ValueError(f"{unit.gcda}: {len(counts)} counts for {unit.count} counters")
    if sum_max is None:
        sum_max = max(counts, default=0)
    words = [MAGIC, unit.version, unit.stamp, unit.checksum,
             TAG_SUMMARY, SUMMARY_LENGTH, runs & 0xFFFFFFFF, sum_max & 0xFFFFFFFF]
    index = 0
    for f in unit.functions:
        if not f.present:
            words += [TAG_FUNCTION, 0]
            continue
        words += [TAG_FUNCTION, FUNCTION_LENGTH, f.ident, f.lineno_checksum, f.cfg_checksum]
        values = counts[index:index + f.count]
        index += f.count
        if any(values):
            words += [TAG_ARCS, 8 * f.count]
            for v in values:
                words += [v & 0xFFFFFFFF, (v >> 32) & 0xFFFFFFFF]
        else:
            words += [TAG_ARCS, (-8 * f.count) & 0xFFFFFFFF]
    words.append(0)
    return struct.pack(f"<{len(words)}I", *words)


@dataclass(frozen=True)
class FunctionData:
    ident: int | None  # None: a discarded copy (no data)
    lineno_checksum: int
    cfg_checksum: int
    counts: tuple[int, ...]


@dataclass(frozen=True)
class GcdaData:
    version: int
    stamp: int
    checksum: int
    runs: int
    sum_max: int
    functions: tuple[FunctionData, ...]  # in file order

    @property
    def counts(self) -> list[int]:
        return [c for f in self.functions for c in f.counts]


def decode(data: bytes, where: str = "gcda") -> GcdaData:
    """Read a ``.gcda`` of the shape :func:`encode` writes (and GCC 12's libgcov)."""
    if len(data) % 4:
        raise FirmwareError(f"{where}: {len(data)} bytes, not whole words")
    words = struct.unpack(f"<{len(data) // 4}I", data)
    if len(words) < 4 or words[0] != MAGIC:
        raise FirmwareError(f"{where}: not a .gcda file")
    version, stamp, checksum = words[1:4]
    runs = sum_max = 0
    functions: list[FunctionData] = []
    at = 4
    while at < len(words) and words[at] != 0:
        if at + 1 >= len(words):
            raise FirmwareError(f"{where}: truncated at word {at}")
        tag, length = words[at], words[at + 1]
        at += 2
        if tag == TAG_SUMMARY:
            runs, sum_max = words[at], words[at + 1]
            at += length // 4
        elif tag == TAG_FUNCTION:
            if length:
                ident, lineno, cfg = words[at:at + 3]
                functions.append(FunctionData(ident, lineno, cfg, ()))
            else:
                functions.append(FunctionData(None, 0, 0, ()))
            at += length // 4
        elif tag == TAG_ARCS:
            if length & 0x80000000:  # all zero
                values: tuple[int, ...] = (0,) * ((-length & 0xFFFFFFFF) // 8)
            else:
                pairs = words[at:at + length // 4]
                values = tuple(lo | hi << 32 for lo, hi in zip(pairs[::2], pairs[1::2],
                                                              strict=True))
                at += length // 4
            if not functions:
                raise FirmwareError(f"{where}: counts before any function")
            functions[-1] = replace(functions[-1], counts=values)
        else:
            raise FirmwareError(f"{where}: unknown record 0x{tag:08x} at word {at - 2}")
    return GcdaData(version, stamp, checksum, runs, sum_max, tuple(functions))
