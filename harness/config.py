"""Typed target descriptions (``targets/<name>.yaml``).

Every model forbids unknown fields, so a typo is an error that names the file and the field
instead of a setting silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError, UnknownTarget

CPUS = ("cortex-m0", "cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m4f", "cortex-m7",
        "cortex-m33")


M = TypeVar("M", bound=BaseModel)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MemoryRegion(_Model):
    name: str
    kind: Literal["flash", "ram", "rom", "device"]
    start: Annotated[int, Field(ge=0, le=0xFFFF_FFFF)]
    size: Annotated[int, Field(gt=0)]

    @property
    def end(self) -> int:
        return self.start + self.size

    def contains(self, address: int, length: int = 1) -> bool:
        return self.start <= address and address + length <= self.end


class FirmwareSpec(_Model):
    build: list[str] = Field(min_length=1, description="command that builds the ELF")
    elf: Path = Field(description="where the ELF lands, relative to the project root")
    sources: list[Path] = Field(default_factory=list, description="inputs; newer → rebuild")
    version_symbol: str = "fw_version"


class ConsoleSpec(_Model):
    """A UART of the chip. ``shell``: a text console the harness reads (``dut.consoles``).
    ``raw``: a byte channel for another protocol stack (e.g. SLCAN for python-can); the harness
    does not read it but offers it as a pyserial URL (``dut.channels``)."""

    uart: Annotated[int, Field(ge=0, le=7)]
    kind: Literal["shell", "raw"] = "shell"
    ready: str = Field(default="^READY$", description="regex printed once the shell listens")
    baud: int = 115200


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
        default_factory=list, max_length=120,
        description="device registers QEMU's system_reset leaves alone: power-on values to "
                    "restore when a chip is reused (done by the core: debugger writes to "
                    "device registers are dropped)")


class BenchWorld(_Model):
    pyocd_target: str
    timeout_factor: Annotated[float, Field(gt=0)] = 1.0


class Target(_Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str
    cpu: Literal[CPUS]  # type: ignore[valid-type]
    memory: list[MemoryRegion] = Field(min_length=1)
    firmware: FirmwareSpec
    consoles: dict[str, ConsoleSpec] = Field(min_length=1)
    default_console: str | None = None
    qemu: QemuWorld | None = None
    bench: BenchWorld | None = None
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


def _describe(err: dict) -> str:
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
