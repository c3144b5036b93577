"""The C tests an image holds, read from its ELF (section ``qtest_cases``, qtest.h layout)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import FirmwareError
from ..firmware import FirmwareImage

MAGIC = 0x54535451  # "QTST"
CASE = struct.Struct("<6I")  # magic, suite*, name*, file*, line, fn
SUITE = struct.Struct("<3I")  # name*, setup, teardown
START, STOP = "__start_qtest_cases", "__stop_qtest_cases"


@dataclass(frozen=True)
class CCase:
    suite: str
    name: str
    file: str  # as compiled: relative to firmware/
    line: int

    @property
    def id(self) -> str:
        return f"{self.suite}.{self.name}"


def _cstring(image: FirmwareImage, address: int, limit: int = 256) -> str:
    out = bytearray()
    while len(out) < limit:
        b = image.read_static(address + len(out), 1)
        if b == b"\0":
            return out.decode("utf-8", "replace")
        out += b
    raise FirmwareError(f"{image.path}: string at 0x{address:08x} is not terminated")


def _bound(image: FirmwareImage, name: str) -> int:
    """Address of a linker-made section bound (NOTYPE symbols are not in image.symbols)."""
    address = image.linker_symbol(name)
    if address is None:
        raise FirmwareError(f"{image.path}: no {name} symbol: not a qtest image (no QTEST() "
                            f"cases linked in?)")
    return address


def read_cases(image: FirmwareImage) -> list[CCase]:
    """Every registered test, in (file, line) order — the order the image lists them in."""
    start, stop = _bound(image, START), _bound(image, STOP)
    if (stop - start) % CASE.size:
        raise FirmwareError(f"{image.path}: section qtest_cases is {stop - start} bytes, not a "
                            f"multiple of {CASE.size}: descriptor layout changed?")
    raw = image.read_static(start, stop - start) if stop > start else b""
    cases = []
    for off in range(0, len(raw), CASE.size):
        magic, suite_at, name_at, file_at, line, _fn = CASE.unpack_from(raw, off)
        if magic != MAGIC:
            raise FirmwareError(f"{image.path}: bad qtest descriptor at "
                                f"0x{start + off:08x} (magic 0x{magic:08x})")
        suite_name_at = SUITE.unpack(image.read_static(suite_at, SUITE.size))[0]
        cases.append(CCase(_cstring(image, suite_name_at), _cstring(image, name_at),
                           _cstring(image, file_at), line))
    ids = [c.id for c in cases]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise FirmwareError(f"{image.path}: duplicate C test ids {dupes}")
    return sorted(cases, key=lambda c: (c.file, c.line))
