"""Firmware images: an ELF read with pyelftools — segments, symbols, C types, version block."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import struct
import subprocess
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from .ctypes_dwarf import CType, Struct, unsigned, variable_types
from .errors import FirmwareError, ToolMissing

VERSION_MAGIC = 0x564D5351  # bytes "QSMV"
_VERSION_FMT = "<I3Bx16s24s16s"
VERSION_SIZE = struct.calcsize(_VERSION_FMT)


@dataclass(frozen=True)
class Segment:
    address: int  # load (physical) address
    data: bytes


@dataclass(frozen=True)
class Symbol:
    name: str
    address: int
    size: int
    kind: str  # "object" | "func" | ...


@dataclass(frozen=True)
class VersionInfo:
    product: str
    version: str
    git: str
    build: str

    @classmethod
    def unpack(cls, raw: bytes, where: str = "version block") -> VersionInfo:
        if len(raw) < VERSION_SIZE:
            raise FirmwareError(f"{where}: {len(raw)} bytes, expected {VERSION_SIZE}")
        magic, major, minor, patch, git, build, product = struct.unpack_from(_VERSION_FMT, raw)
        if magic != VERSION_MAGIC:
            raise FirmwareError(f"{where}: bad magic 0x{magic:08x} "
                                f"(expected 0x{VERSION_MAGIC:08x})")

        def text(b: bytes) -> str:
            return b.split(b"\0", 1)[0].decode("ascii", "replace")

        return cls(text(product), f"{major}.{minor}.{patch}", text(git), text(build))

    def __str__(self) -> str:
        return f"{self.product} {self.version} (git {self.git}, build {self.build})"


class FirmwareImage:
    """One ELF file. Cheap to construct again: use :func:`load_image` to share parsed images."""

    def __init__(self, path: Path, version_symbol: str = "fw_version") -> None:
        self.path = Path(path)
        self.version_symbol = version_symbol
        try:
            self._raw = self.path.read_bytes()
        except FileNotFoundError:
            raise FirmwareError(f"{self.path}: firmware ELF not found") from None
        try:
            import io

            self._elf = ELFFile(io.BytesIO(self._raw))
        except ELFError as exc:
            raise FirmwareError(f"{self.path}: not a valid ELF file ({exc})") from None
        if self._elf["e_machine"] != "EM_ARM" or self._elf.elfclass != 32:
            raise FirmwareError(f"{self.path}: not a 32-bit ARM ELF "
                                f"(machine {self._elf['e_machine']}, class {self._elf.elfclass})")
        if not self.segments:
            raise FirmwareError(f"{self.path}: ELF has no loadable segments")

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self._raw).hexdigest()

    @property
    def entry(self) -> int:
        return self._elf["e_entry"]

    @cached_property
    def segments(self) -> list[Segment]:
        out = []
        try:
            for seg in self._elf.iter_segments():
                if seg["p_type"] == "PT_LOAD" and seg["p_filesz"] > 0:
                    data = seg.data()
                    if len(data) != seg["p_filesz"]:
                        raise ValueError(f"segment at 0x{seg['p_paddr']:08x} truncated: "
                                         f"{len(data)} of {seg['p_filesz']} bytes")
                    out.append(Segment(seg["p_paddr"], data))
        except (ELFError, ValueError, struct.error) as exc:
            raise FirmwareError(f"{self.path}: corrupt program headers ({exc})") from None
        return out

    @cached_property
    def symbols(self) -> dict[str, Symbol]:
        table = self._elf.get_section_by_name(".symtab")
        if table is None:
            raise FirmwareError(f"{self.path}: ELF has no symbol table (stripped?)")
        out = {}
        for sym in table.iter_symbols():
            kind = sym["st_info"]["type"]
            if kind not in ("STT_OBJECT", "STT_FUNC") or not sym.name:
                continue
            out[sym.name] = Symbol(sym.name, sym["st_value"], sym["st_size"],
                                   kind[4:].lower())
        return out

    def symbol(self, name: str) -> Symbol:
        try:
            return self.symbols[name]
        except KeyError:
            raise KeyError(f"{self.path.name}: no symbol {name!r}") from None

    @cached_property
    def types(self) -> dict[str, CType]:
        if not self._elf.has_dwarf_info():
            return {}
        return variable_types(self._elf.get_dwarf_info())

    def type_of(self, name: str) -> CType:
        """C type of a global variable (DWARF), or an unsigned int of the symbol's size."""
        t = self.types.get(name)
        if t is not None:
            return t
        sym = self.symbol(name)
        return unsigned(sym.size if sym.size in (1, 2, 4, 8) else 4)

    def resolve(self, path: str) -> tuple[int, CType]:
        """``"stimulus.door_closed"`` → (address, type)."""
        head, *members = path.split(".")
        address = self.symbol(head).address
        ctype = self.type_of(head)
        for m in members:
            if not isinstance(ctype, Struct):
                raise KeyError(f"{path}: {ctype.name} is not a struct")
            off, ctype = ctype.member(m)
            address += off
        return address, ctype

    def read_static(self, address: int, length: int) -> bytes:
        """Bytes at a load address, as the image will place them in memory."""
        for seg in self.segments:
            if seg.address <= address and address + length <= seg.address + len(seg.data):
                off = address - seg.address
                return seg.data[off:off + length]
        raise FirmwareError(f"{self.path}: 0x{address:08x}+{length} is not in a loaded segment")

    @cached_property
    def version(self) -> VersionInfo:
        try:
            sym = self.symbol(self.version_symbol)
        except KeyError:
            raise FirmwareError(f"{self.path}: no version block (symbol "
                                f"{self.version_symbol!r})") from None
        return VersionInfo.unpack(self.read_static(sym.address, VERSION_SIZE),
                                  f"{self.path}: version block")


_IMAGES: dict[tuple, FirmwareImage] = {}


def load_image(path: Path, version_symbol: str = "fw_version") -> FirmwareImage:
    """A parsed image, shared while the file is unchanged (tests boot the same ELF many times)."""
    path = Path(path).resolve()
    try:
        st = path.stat()
    except FileNotFoundError:
        raise FirmwareError(f"{path}: firmware ELF not found") from None
    key = (path, st.st_mtime_ns, st.st_size, version_symbol)
    img = _IMAGES.get(key)
    if img is None:
        img = _IMAGES[key] = FirmwareImage(path, version_symbol)
    return img


def _newest_mtime(paths: list[Path]) -> float:
    newest = 0.0
    for p in paths:
        if p.is_dir():
            for f in p.rglob("*"):
                if f.is_file():
                    newest = max(newest, f.stat().st_mtime)
        elif p.exists():
            newest = max(newest, p.stat().st_mtime)
    return newest


def is_stale(elf: Path, sources: list[Path]) -> bool:
    return not elf.exists() or _newest_mtime(sources) > elf.stat().st_mtime


def build(command: list[str], elf: Path, sources: list[Path], cwd: Path) -> Path:
    """Run the target's build command when a source is newer than the ELF (or it is missing).

    A file lock serialises builds between pytest-xdist workers and parallel runs.
    """
    if not is_stale(elf, sources):
        return elf
    if shutil.which(command[0]) is None:
        raise ToolMissing(command[0], "make", "firmware build")
    if command[0] == "make" and shutil.which("arm-none-eabi-gcc") is None:
        raise ToolMissing("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi",
                          "firmware build")
    lock_path = cwd / ".harness-build.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_stale(elf, sources):
            proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
            if proc.returncode != 0:
                tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
                raise FirmwareError(f"firmware build failed: {' '.join(command)} "
                                    f"(exit {proc.returncode})\n{tail}")
    if not elf.exists():
        raise FirmwareError(f"{' '.join(command)} succeeded but did not produce {elf}")
    return elf
