"""Firmware images: ELF (pyelftools), Intel HEX (intelhex) or a raw binary at a load address.

The format is detected by content, never by the file name. Every format gives the load
segments and a sha256; an ELF also gives symbols, C types (DWARF) and, when the target names a
``version_symbol``, the version block. Without one, an image's identity is its sha256 and the
chip's memory read back against the image.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import struct
import subprocess
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from .ctypes_dwarf import CType, Struct, unsigned, variable_types
from .errors import FirmwareError, ToolMissing

if TYPE_CHECKING:
    from .config import FirmwareSpec

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


FORMATS = ("elf", "hex", "bin")


def detect_format(raw: bytes) -> str:
    """``elf``, ``hex`` (Intel HEX: text records starting with ':') or ``bin`` (anything else)."""
    if raw[:4] == b"\x7fELF":
        return "elf"
    head = raw[:64].lstrip()
    if head.startswith(b":") and all(c in b"0123456789ABCDEFabcdef:\r\n \t"
                                     for c in raw[:4096]):
        return "hex"
    return "bin"


class FirmwareImage:
    """One image file. Cheap to construct again: use :func:`load_image` to share parsed ones.

    ``load_address``: where a raw binary goes (required for ``bin``, refused for the others,
    which carry their addresses). ``version_symbol``: the ELF symbol of the version block, or
    None when the firmware has no such contract.
    """

    def __init__(self, path: Path, version_symbol: str | None = None,
                 load_address: int | None = None) -> None:
        self.path = Path(path)
        self.version_symbol = version_symbol
        self.load_address = load_address
        try:
            self._raw = self.path.read_bytes()
        except FileNotFoundError:
            raise FirmwareError(f"{self.path}: firmware image not found") from None
        except IsADirectoryError:
            raise FirmwareError(f"{self.path}: is a directory, not a firmware image") from None
        if not self._raw:
            raise FirmwareError(f"{self.path}: firmware image is empty")
        self.format = detect_format(self._raw)
        self._elf: ELFFile | None = None
        if self.format == "elf":
            self._elf = self._open_elf()
        if load_address is not None and self.format != "bin":
            raise FirmwareError(f"{self.path}: load_address is for raw binaries; this "
                                f"{self.format.upper()} image carries its own addresses")
        if self.format == "bin" and load_address is None:
            raise FirmwareError(f"{self.path}: a raw binary (neither ELF nor Intel HEX) needs "
                                f"'load_address' in the target's firmware section")
        if version_symbol is not None and self._elf is None:
            raise FirmwareError(f"{self.path}: version_symbol {version_symbol!r} needs an ELF "
                                f"image; a {self.format.upper()} image has no symbols")
        if not self.segments:
            raise FirmwareError(f"{self.path}: {self.format.upper()} image has no loadable "
                                "segments")

    def _open_elf(self) -> ELFFile:
        import io

        try:
            elf = ELFFile(io.BytesIO(self._raw))
        except ELFError as exc:
            raise FirmwareError(f"{self.path}: not a valid ELF file ({exc})") from None
        if elf["e_machine"] != "EM_ARM" or elf.elfclass != 32:
            raise FirmwareError(f"{self.path}: not a 32-bit ARM ELF "
                                f"(machine {elf['e_machine']}, class {elf.elfclass})")
        return elf

    @property
    def has_symbols(self) -> bool:
        """The image carries a symbol table (an ELF that is not stripped)."""
        return self._elf is not None and isinstance(
            self._elf.get_section_by_name(".symtab"), SymbolTableSection)

    def linker_symbol(self, name: str) -> int | None:
        """Address of any symbol of the ELF's table, linker-made bounds (NOTYPE) included;
        None when there is no such symbol (or no table)."""
        table = self._elf.get_section_by_name(".symtab") if self._elf is not None else None
        syms = table.get_symbol_by_name(name) if isinstance(table, SymbolTableSection) else None
        return int(syms[0]["st_value"]) if syms else None

    @property
    def identity(self) -> str:
        """What identifies this image in records: its version when it has one, else sha256."""
        version = self.version
        return str(version) if version is not None else f"sha256:{self.sha256}"

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self._raw).hexdigest()

    @property
    def entry(self) -> int:
        """The reset handler: the ELF's entry, else the vector table's second word."""
        if self._elf is not None:
            return int(self._elf["e_entry"])
        first = min(self.segments, key=lambda seg: seg.address)
        return int.from_bytes(first.data[4:8], "little") if len(first.data) >= 8 else 0

    @cached_property
    def segments(self) -> list[Segment]:
        if self.format == "hex":
            return self._hex_segments()
        if self.format == "bin":
            assert self.load_address is not None
            return [Segment(self.load_address, self._raw)]
        return self._elf_segments()

    def _elf_segments(self) -> list[Segment]:
        assert self._elf is not None
        out = []
        try:
            for seg in self._elf.iter_segments():
                if seg["p_type"] == "PT_LOAD" and seg["p_filesz"] > 0:
                    data = seg.data()
                    if len(data) != seg["p_filesz"]:
                        raise ValueError(f"segment at 0x{seg['p_paddr']:08x} truncated: "
                                         f"{len(data)} of {seg['p_filesz']} bytes")
                    out.append(Segment(seg["p_paddr"], data))
            if not out and self._elf.num_segments() == 0:
                # no program headers (e.g. `objcopy -I ihex -O elf32-littlearm`): the
                # allocated sections with contents are what a loader writes
                for sec in self._elf.iter_sections():
                    if sec["sh_flags"] & 0x2 and sec["sh_type"] == "SHT_PROGBITS" \
                            and sec["sh_size"] > 0:
                        out.append(Segment(sec["sh_addr"], sec.data()))
        except (ELFError, ValueError, struct.error) as exc:
            raise FirmwareError(f"{self.path}: corrupt program headers ({exc})") from None
        return sorted(out, key=lambda seg: seg.address)

    def _hex_segments(self) -> list[Segment]:
        import io

        from intelhex import IntelHex, IntelHexError

        ih = IntelHex()
        try:
            ih.loadhex(io.StringIO(self._raw.decode("ascii")))
        except (IntelHexError, UnicodeDecodeError, ValueError) as exc:
            raise FirmwareError(f"{self.path}: not a valid Intel HEX file ({exc})") from None
        return [Segment(lo, ih.tobinstr(start=lo, end=hi - 1)) for lo, hi in ih.segments()]

    @cached_property
    def symbols(self) -> dict[str, Symbol]:
        if self._elf is None:
            return {}
        table = self._elf.get_section_by_name(".symtab")
        if not isinstance(table, SymbolTableSection):
            return {}
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
            if not self.has_symbols:
                raise KeyError(f"{self.path.name}: no symbol {name!r}: the "
                               f"{self.format.upper()} image has no symbol table; mark the test "
                               "@pytest.mark.requires('symbols')") from None
            raise KeyError(f"{self.path.name}: no symbol {name!r}") from None

    @cached_property
    def types(self) -> dict[str, CType]:
        if self._elf is None or not self._elf.has_dwarf_info():
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
    def version(self) -> VersionInfo | None:
        """The version block the image carries (None: the target names no version_symbol)."""
        if self.version_symbol is None:
            return None
        try:
            sym = self.symbol(self.version_symbol)
        except KeyError:
            raise FirmwareError(f"{self.path}: no version block (symbol "
                                f"{self.version_symbol!r})") from None
        return VersionInfo.unpack(self.read_static(sym.address, VERSION_SIZE),
                                  f"{self.path}: version block")


_IMAGES: dict[tuple, FirmwareImage] = {}


def load_image(path: Path, version_symbol: str | None = None,
               load_address: int | None = None) -> FirmwareImage:
    """A parsed image, shared while the file is unchanged (tests boot the same one many times)."""
    path = Path(path).resolve()
    try:
        st = path.stat()
    except FileNotFoundError:
        raise FirmwareError(f"{path}: firmware image not found") from None
    key = (path, st.st_mtime_ns, st.st_size, version_symbol, load_address)
    img = _IMAGES.get(key)
    if img is None:
        img = _IMAGES[key] = FirmwareImage(path, version_symbol, load_address)
    return img


def built_image(spec: FirmwareSpec, root: Path) -> FirmwareImage:
    """A target's own image (``spec``, paths relative to ``root``), built first when stale."""
    path = root / spec.path
    if spec.build is not None:
        build(spec.build, path, [root / s for s in spec.sources], root)
    return load_image(path, spec.version_symbol, spec.load_address)


def load_override(path: Path, spec: FirmwareSpec) -> FirmwareImage:
    """An image given on the command line (``--firmware``) for a target: the target's version
    symbol applies to an ELF, its load address to a raw binary."""
    try:
        head = Path(path).read_bytes()[:4096]
    except FileNotFoundError:
        raise FirmwareError(f"{path}: firmware image not found (--firmware)") from None
    except IsADirectoryError:
        raise FirmwareError(f"{path}: is a directory, not a firmware image (--firmware)") \
            from None
    kind = detect_format(head) if head else "bin"
    return load_image(path, spec.version_symbol if kind == "elf" else None,
                      spec.load_address if kind == "bin" else None)


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
