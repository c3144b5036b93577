"""What GCC's coverage instrumentation left in an ELF: its units, functions and counters.

With ``-fprofile-arcs -fprofile-info-section`` every compilation unit gets a ``gcov_info``
record (in ``.data``) and a pointer to it in the ``.gcov_info`` section; the records are what
libgcov would walk to write ``.gcda`` files. The host reads them from the ELF instead — they
are constant — and only the counters themselves from the chip.

GCC 12's records, as found in arm-none-eabi-gcc 12.2 objects (32-bit pointers)::

    struct gcov_info {                      struct gcov_fn_info {
      u32 version;          /*  0 */          const gcov_info *key;     /*  0 */
      gcov_info *next;      /*  4 */          u32 ident;                /*  4 */
      u32 stamp;            /*  8 */          u32 lineno_checksum;      /*  8 */
      u32 checksum;         /* 12 */          u32 cfg_checksum;         /* 12 */
      const char *filename; /* 16 */          struct { u32 num;         /* 16 */
      merge_fn merge[8];    /* 20 */                   i64 *values; }   /* 20 */
      u32 n_functions;      /* 52 */            ctrs[one per active counter kind];
      gcov_fn_info **functions; /* 56 */  };
    };

``merge[k]`` is non-null for each counter kind in use; with ``-fprofile-arcs`` alone that is
kind 0, the arc counters (64-bit each, in ``.bss``). ``filename`` is where the unit's ``.gcda``
belongs: next to its ``.gcno``.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from ..errors import FirmwareError

SECTION = ".gcov_info"
# counter kinds (GCOV_COUNTERS) of each gcov major version whose record layout is known
COUNTER_KINDS = {12: 8}
ARCS = 0  # the arc counters' kind
COUNTER = struct.Struct("<Q")
FN_HEAD = struct.Struct("<4I")  # key, ident, lineno_checksum, cfg_checksum
CTR = struct.Struct("<2I")  # num, values


class NotInstrumented(FirmwareError):
    """The image carries no coverage records (not built for coverage)."""


def gcov_version(word: int) -> tuple[int, int]:
    """(major, minor) of a gcov version word, tens of the major as a letter from 'A':
    'B22*' (GCC 12.2) → (12, 2), 'A93*' → (9, 3)."""
    a, b, c = (word >> 24) & 0xFF, (word >> 16) & 0xFF, (word >> 8) & 0xFF
    return (a - ord("A")) * 10 + (b - ord("0")), c - ord("0")


@dataclass(frozen=True)
class Function:
    ident: int
    lineno_checksum: int
    cfg_checksum: int
    address: int  # of its first arc counter (0 when it has none)
    count: int  # arc counters
    present: bool  # False: a discarded copy of a function another unit owns (no data)


@dataclass(frozen=True)
class Unit:
    gcda: str  # the .gcda path the compiler chose (the .gcno is beside it)
    version: int
    stamp: int
    checksum: int
    functions: tuple[Function, ...]
    first: int  # index of its first counter in the image's counter vector

    @property
    def count(self) -> int:
        return sum(f.count for f in self.functions)

    @property
    def gcno(self) -> Path:
        return Path(self.gcda).with_suffix(".gcno")


@dataclass(frozen=True)
class Instrumentation:
    """Every unit of one image; its counters, concatenated in unit and function order, form
    the image's counter vector."""

    units: tuple[Unit, ...]

    @cached_property
    def size(self) -> int:
        return sum(u.count for u in self.units)

    @cached_property
    def arrays(self) -> tuple[tuple[int, int, int], ...]:
        """(address, counters, index in the vector) of every function's counters."""
        out = []
        for unit in self.units:
            index = unit.first
            for f in unit.functions:
                if f.count:
                    out.append((f.address, f.count, index))
                index += f.count
        return tuple(out)


class _Memory:
    """The ELF's allocated sections by address (.data at its run address, not its load one)."""

    def __init__(self, elf: ELFFile, path: Path) -> None:
        self.path = path
        self.sections = [(int(s["sh_addr"]), s.data()) for s in elf.iter_sections()
                         if s["sh_flags"] & 0x2 and s["sh_type"] == "SHT_PROGBITS"]

    def read(self, address: int, length: int) -> bytes:
        for start, data in self.sections:
            if start <= address and address + length <= start + len(data):
                return data[address - start:address - start + length]
        raise FirmwareError(f"{self.path}: coverage record at 0x{address:08x}+{length} is in "
                            f"no section with contents")

    def u32s(self, address: int, n: int) -> tuple[int, ...]:
        return struct.unpack(f"<{n}I", self.read(address, 4 * n))

    def cstring(self, address: int, limit: int = 4096) -> str:
        for start, data in self.sections:
            if start <= address < start + len(data):
                end = data.find(b"\0", address - start, address - start + limit)
                if end >= 0:
                    return data[address - start:end].decode("utf-8", "replace")
        raise FirmwareError(f"{self.path}: unterminated file name at 0x{address:08x}")


def read_instrumentation(path: Path) -> Instrumentation:
    """The coverage records of the ELF at ``path``; :class:`NotInstrumented` without them."""
    path = Path(path)
    try:
        elf = ELFFile(io.BytesIO(path.read_bytes()))
    except (ELFError, OSError) as exc:
        raise FirmwareError(f"{path}: cannot read it as an ELF ({exc})") from None
    section = elf.get_section_by_name(SECTION)
    if section is None or section["sh_size"] == 0:
        raise NotInstrumented(f"{path.name} has no coverage instrumentation (no {SECTION} "
                              f"section: not built with -fprofile-arcs -fprofile-info-section, "
                              f"or the linker script does not KEEP it)")
    memory = _Memory(elf, path)
    raw = section.data()
    pointers = struct.unpack(f"<{len(raw) // 4}I", raw[:len(raw) // 4 * 4])
    units = []
    first = 0
    for at in pointers:  # link order
        unit = _unit(memory, at, first)
        units.append(unit)
        first += unit.count
    return Instrumentation(tuple(units))


def _unit(memory: _Memory, at: int, first: int) -> Unit:
    version, _next, stamp, checksum, filename = memory.u32s(at, 5)
    major, minor = gcov_version(version)
    kinds = COUNTER_KINDS.get(major)
    if kinds is None:
        raise FirmwareError(f"{memory.path}: coverage records of gcov {major}.{minor}: only "
                            f"the layout of GCC {', '.join(map(str, COUNTER_KINDS))} is known")
    merge = memory.u32s(at + 20, kinds)
    n_functions, functions_at = memory.u32s(at + 20 + 4 * kinds, 2)
    active = [k for k, fn in enumerate(merge) if fn]
    if active != [ARCS]:
        raise FirmwareError(f"{memory.path}: unit {memory.cstring(filename)} uses counter "
                            f"kinds {active}; only arc counters (-fprofile-arcs) are read")
    functions = []
    for fn_at in (memory.u32s(functions_at, n_functions) if n_functions else ()):
        if fn_at == 0:
            functions.append(Function(0, 0, 0, 0, 0, False))
            continue
        key, ident, lineno, cfg = FN_HEAD.unpack(memory.read(fn_at, FN_HEAD.size))
        num, values = CTR.unpack(memory.read(fn_at + FN_HEAD.size, CTR.size))
        present = key == at
        functions.append(Function(ident, lineno, cfg, values if present else 0,
                                  num if present else 0, present))
    return Unit(memory.cstring(filename), version, stamp, checksum, tuple(functions), first)
