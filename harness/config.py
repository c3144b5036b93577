"""Typed target descriptions (``targets/<name>.yaml``).

Every model forbids unknown fields, so a typo is an error that names the file and the field
instead of a setting silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, TypeVar, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from .errors import ConfigError, UnknownTarget

Cpu = Literal["cortex-m0", "cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m4f", "cortex-m7",
              "cortex-m33", "cortex-m55"]
CPUS: tuple[str, ...] = get_args(Cpu)


M = TypeVar("M", bound=BaseModel)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MemoryRegion(_Model):
    name: str
    # config: non-volatile configuration the part programs its own way (nRF UICR, STM32
    # option bytes, OTP); device: peripheral registers
    kind: Literal["flash", "ram", "rom", "config", "device"]
    start: Annotated[int, Field(ge=0, le=0xFFFF_FFFF)]
    size: Annotated[int, Field(gt=0)]

    @property
    def end(self) -> int:
        return self.start + self.size

    def contains(self, address: int, length: int = 1) -> bool:
        return self.start <= address and address + length <= self.end


class FirmwareSpec(_Model):
    """The image a target runs: ELF, Intel HEX or raw binary (detected by content)."""

    image: Path | None = Field(default=None, description="the firmware image, relative to "
                               "the project root (ELF, Intel HEX, or raw binary)")
    elf: Path | None = Field(default=None, description="older name of 'image'")
    build: list[str] | None = Field(default=None, min_length=1,
                                    description="command that builds the image (none: the "
                                    "image is prebuilt)")
    sources: list[Path] = Field(default_factory=list, description="inputs; newer → rebuild")
    load_address: Annotated[int, Field(ge=0, le=0xFFFF_FFFF)] | None = Field(
        default=None, description="where a raw binary image is loaded (raw binaries only)")
    version_symbol: str | None = Field(
        default=None, description="ELF symbol of a QSM version block; none: the image is "
        "identified by its sha256 and a read-back of the chip's memory")

    @model_validator(mode="after")
    def _one_image(self) -> FirmwareSpec:
        if (self.image is None) == (self.elf is None):
            raise ValueError("give the image path as 'image' (or its older name 'elf'), "
                             "exactly once")
        if self.sources and self.build is None:
            raise ValueError("'sources' without 'build': nothing would rebuild the image")
        return self

    @property
    def path(self) -> Path:
        path = self.image if self.image is not None else self.elf
        assert path is not None  # the validator saw to it
        return path


class ConsoleSpec(_Model):
    """A UART of the chip. ``shell``: a text console the harness reads (``dut.consoles``).
    ``raw``: a byte channel for another protocol stack (e.g. SLCAN for python-can); the harness
    does not read it but offers it as a pyserial URL (``dut.channels``)."""

    uart: Annotated[int, Field(ge=0, le=7)]
    kind: Literal["shell", "raw"] = "shell"
    ready: str = Field(default="^READY$", description="regex the chip prints once it listens: "
                       "a whole line or a prompt still waiting for input ('^>>> $')")
    baud: int = 115200
    newline: Literal["\n", "\r", "\r\n"] = Field(
        default="\n", description="what ends a line the harness sends (lf, cr or crlf)")
    echo: bool = Field(default=False, description="the chip echoes what it receives: the "
                       "harness strips the echo from replies")
    encoding: str = "utf-8"
    prompt: str | None = Field(default=None, description="regex of the shell's prompt: "
                               "dut.command() returns what the chip printed before it (for "
                               "shells that do not answer OK/ERR)")

    @field_validator("newline", mode="before")
    @classmethod
    def _newline_names(cls, v: object) -> object:
        names = {"lf": "\n", "cr": "\r", "crlf": "\r\n"}
        if isinstance(v, str) and v not in names.values():
            if v.lower() not in names:
                raise ValueError("one of lf, cr, crlf")
            return names[v.lower()]
        return v

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str) -> str:
        import codecs

        try:
            codecs.lookup(v)
        except LookupError:
            raise ValueError(f"unknown text encoding {v!r}") from None
        return v

    @field_validator("ready", "prompt")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        import re

        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return v


class UartDrain(_Model):
    """How to empty a UART's receive FIFO by reading it (QEMU's reset leaves it full)."""

    data: Annotated[int, Field(ge=0, le=0xFFFF_FFFF)]
    status: Annotated[int, Field(ge=0, le=0xFFFF_FFFF)]
    mask: Annotated[int, Field(ge=0, le=0xFFFF_FFFF)]
    empty: Annotated[int, Field(ge=0, le=0xFFFF_FFFF)] = Field(
        description="status & mask == empty means the FIFO is empty")


class RegisterWrite(_Model):
    address: Annotated[int, Field(ge=0, le=0xFFFF_FFFF)]
    value: Annotated[int, Field(ge=0, le=0xFFFF_FFFF)]


class QemuWorld(_Model):
    machine: str
    cpu: str | None = None
    extra_args: list[str] = Field(default_factory=list)
    timeout_factor: Annotated[float, Field(gt=0)] = 1.0
    ram_fill: Annotated[int, Field(ge=0, le=0xFFFF_FFFF)] = Field(
        default=0, description="word a reused chip's RAM is scrubbed with between tests")
    uart_drain: list[UartDrain] = Field(
        default_factory=list, description="UART RX FIFOs to empty when a chip is reused")
    reset_writes: list[RegisterWrite] = Field(
        default_factory=list, max_length=200,
        description="device registers QEMU's system_reset leaves alone: power-on values to "
                    "restore when a chip is reused (done by the core: debugger writes to "
                    "device registers are dropped)")


class BoardMemory(MemoryRegion):
    qemu: str | None = Field(default=None, description="QEMU's name of the region "
                             "(`info mtree`): how the qemu: probe recognises the board")


class BoardUart(_Model):
    index: Annotated[int, Field(ge=0, le=7)]
    base: Annotated[int, Field(ge=0, le=0xFFFF_FFFF)]
    kind: str


class BoardQuirks(_Model):
    """Device state QEMU's system_reset leaves alone, restored when a chip is reused."""

    uart_drain: list[UartDrain] = Field(default_factory=list)
    reset_writes: list[RegisterWrite] = Field(default_factory=list, max_length=200)


class ObservedBlock(_Model):
    """A peripheral block's registers that read without side effects: what the pool proof
    compares between a reused chip and a fresh one."""

    block: str
    base: Annotated[int, Field(ge=0, le=0xFFFF_FFFF)]
    registers: dict[str, Annotated[int, Field(ge=0, le=0xFFFF)]]  # name → offset


class BoardProfile(_Model):
    """What an emulated board is (shipped in harness/boards/profiles/<machine>.yaml): memory
    map, UARTs, QEMU's reset quirks, and whether each world supports it (or why not)."""

    machine: str
    description: str
    cpu: Cpu
    memory: list[BoardMemory] = Field(min_length=1)
    uarts: list[BoardUart] = Field(default_factory=list)
    flash_sector: Annotated[int, Field(gt=0)] = 0x400
    qemu: BoardQuirks = Field(default_factory=BoardQuirks)
    observe: list[ObservedBlock] = Field(
        default_factory=list, description="device registers the pool proof compares")
    chip_time_shift: Annotated[int, Field(ge=0, le=10)] | None = Field(
        default=None, description="QEMU -icount shift for chip time: 2^shift ns per "
        "instruction, within a factor of two of the real part at its usual clock (none: "
        "unknown, no --chip-time on this board)")
    snapshots: str = Field(default="not measured", description="'ok' when QEMU's savevm/"
                           "loadvm restore a running chip of this board, else why not "
                           "(--dut-reuse snapshot)")
    worlds: dict[Literal["qemu", "pyocd"], str] = Field(
        default_factory=dict, description="'ok', or why the world cannot run this board")

    def region(self, kind: str) -> BoardMemory:
        return next(r for r in self.memory if r.kind == kind)


BOARDS_DIR = Path(__file__).parent / "boards" / "profiles"
_BOARDS: dict[str, BoardProfile] = {}


def board_profiles() -> dict[str, BoardProfile]:
    """Every board profile shipped with the harness, by QEMU machine name."""
    if not _BOARDS:
        for path in sorted(BOARDS_DIR.glob("*.yaml")):
            profile = load_model(path, BoardProfile, "board profile")
            if profile.machine != path.stem:
                raise ConfigError(f"{path}: machine {profile.machine!r} must match the file name")
            _BOARDS[profile.machine] = profile
    return _BOARDS


def board_profile(name: str) -> BoardProfile:
    profiles = board_profiles()
    if name not in profiles:
        raise ValueError(f"unknown board {name!r}; known boards: {', '.join(profiles)} "
                         "(harness boards)")
    return profiles[name]


class BenchWorld(_Model):
    pyocd_target: str
    timeout_factor: Annotated[float, Field(gt=0)] = 1.0
    core_clock_hz: Annotated[int, Field(gt=0)] | None = Field(
        default=None, description="the part's core clock on the bench, in Hz: the rate its "
        "DWT cycle counter counts for chip time (--chip-time; overrides the firmware's "
        "SystemCoreClock; the qemu: probe counts at its own rate)")


class Target(_Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str
    board: str | None = Field(default=None, description="emulated board profile (harness "
                              "boards): fills cpu, memory and the qemu section the target "
                              "does not set itself")
    cpu: Cpu
    memory: list[MemoryRegion] = Field(min_length=1)
    firmware: FirmwareSpec
    consoles: dict[str, ConsoleSpec] = Field(min_length=1)
    default_console: str | None = None
    qemu: QemuWorld | None = None
    bench: BenchWorld | None = None

    def image_problems(self, segments: list[tuple[int, int]]) -> list[str]:
        """Why an image's load segments ((address, length)) cannot be programmed into this
        target, by region: outside the declared memory, or into configuration memory (UICR,
        option bytes, OTP) or device registers, which no world writes as plain memory."""
        out = []
        for address, length in segments:
            where = f"segment 0x{address:08x}+{length}"
            region = next((r for r in self.memory if r.contains(address, length)), None)
            if region is None:
                out.append(f"{where} lies outside every memory region of {self.name} "
                           f"(memory: {', '.join(r.name for r in self.memory)})")
            elif region.kind in ("config", "device"):
                out.append(f"{where} is in region {region.name!r} ({region.kind} memory): "
                           "the harness does not program it; build the image without it")
        return out

    @model_validator(mode="before")
    @classmethod
    def _from_board(cls, data: object) -> object:
        """A target names its board and adds only what is its own: the board's cpu, memory
        map and QEMU section (machine, reset quirks) fill what the target leaves out."""
        if not isinstance(data, dict) or data.get("board") is None:
            return data
        if not isinstance(data["board"], str):
            return data  # the field's own validation says what is wrong
        board = board_profile(data["board"])
        data = dict(data)
        data.setdefault("cpu", board.cpu)
        data.setdefault("memory", [r.model_dump(exclude={"qemu"}) for r in board.memory])
        if "qemu" not in data:
            data["qemu"] = {}
        if isinstance(data["qemu"], dict):
            qemu = dict(data["qemu"])
            qemu.setdefault("machine", board.machine)
            qemu.setdefault("uart_drain", [d.model_dump() for d in board.qemu.uart_drain])
            qemu.setdefault("reset_writes", [w.model_dump() for w in board.qemu.reset_writes])
            data["qemu"] = qemu
        return data
    svd: Path | None = Field(default=None, description="CMSIS-SVD file of the chip's "
                             "peripherals, for dut.regs; relative to the project root")
    # Where the target file was read from; set by the loader, not by the file.
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("memory")
    @classmethod
    def _no_overlap(cls, regions: list[MemoryRegion]) -> list[MemoryRegion]:
        ordered = sorted(regions, key=lambda r: r.start)
        for a, b in zip(ordered, ordered[1:], strict=False):
            if b.start < a.end:
                raise ValueError(f"regions {a.name!r} and {b.name!r} overlap")
        return regions

    def model_post_init(self, _context: object) -> None:
        if self.default_console is not None and self.default_console not in self.consoles:
            raise ValueError(
                f"default_console {self.default_console!r} is not one of {sorted(self.consoles)}"
            )

    @property
    def console_name(self) -> str:
        if self.default_console:
            return self.default_console
        shells = [n for n, c in self.consoles.items() if c.kind == "shell"]
        return shells[0] if shells else next(iter(self.consoles))

    def region(self, kind: str) -> list[MemoryRegion]:
        return [r for r in self.memory if r.kind == kind]


def _describe(err: ErrorDetails) -> str:
    loc = ".".join(str(p) for p in err["loc"]) or "<top level>"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown field (typo?)"
    elif "input" in err and err["type"] not in ("missing",):
        msg = f"{msg} (got {err['input']!r})"
    return f"field '{loc}': {msg}"


def load_model(path: Path, model: type[M], what: str, text: str | bytes | None = None) -> M:
    """Read a YAML file into ``model``; every error names the file, the field and what was
    expected. ``what`` says what the file is ("target description", "limits file"...);
    ``text``: the file's content when the caller already read it (e.g. to hash it)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_bytes() if text is None else text)
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of fields, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        lines = "\n  ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"{path}: invalid {what}:\n  {lines}") from None


def load_target(path: Path) -> Target:
    """Read one target file; errors name the file, the field and what was expected."""
    path = Path(path)
    target = load_model(path, Target, "target description")
    if target.name != path.stem:
        raise ConfigError(f"{path}: field 'name': {target.name!r} must match the file name "
                          f"{path.stem!r}")
    update: dict = {"source": path}
    if target.svd is not None:
        svd = path.resolve().parent.parent / target.svd  # the project root, as for the ELF
        if not svd.is_file():
            raise ConfigError(f"{path}: field 'svd': no such file {svd}")
        update["svd"] = svd
    return target.model_copy(update=update)


class TargetCatalog:
    """The target files of one project directory, loaded on demand."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._cache: dict[str, Target] = {}

    @property
    def root(self) -> Path:
        """Project root: paths in target files are relative to it."""
        return self.directory.parent

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.directory.glob("*.yaml"))

    def get(self, name: str) -> Target:
        if name not in self._cache:
            path = self.directory / f"{name}.yaml"
            if not path.exists():
                known = ", ".join(self.names()) or "(none)"
                raise UnknownTarget(
                    f"unknown target {name!r}: no {path}; known targets: {known}")
            self._cache[name] = load_target(path)
        return self._cache[name]

    def all(self) -> list[Target]:
        return [self.get(n) for n in self.names()]
