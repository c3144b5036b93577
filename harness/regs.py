"""Register access built from a CMSIS-SVD file, over any :class:`~harness.protocols.Memory`.

    regs = Registers.from_svd("targets/svd/qsm_periph.svd", dut.memory)
    regs.PWM.DUTY.write(300)
    regs.PWM.DUTY.read()          # -> 300
    regs.PWM.CTRL.EN = 1          # read-modify-write of one field
    regs.PWM.STATUS.FAULT         # -> the field's value, read from the chip

Addresses are the SVD's absolute ones (peripheral base + offset), so the same test runs against
an RTL block behind the cocotb bridge and against a chip through its debug port. The parsed
description (:class:`DeviceMap`) is independent of any memory and cached per file.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from .errors import ConfigError

if TYPE_CHECKING:
    from cmsis_svd.model import SVDPeripheral, SVDPeripheralArray

    from .protocols import Memory

T = TypeVar("T")

SVD_SCHEMA = "1.3.9"


# -- the description -------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldInfo:
    name: str
    offset: int
    width: int
    access: str  # "read-write", "read-only", "write-only", ...
    one_to_clear: bool = False
    description: str = ""
    enums: dict[str, int] = field(default_factory=dict)

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.offset

    @property
    def readable(self) -> bool:
        return self.access != "write-only"

    @property
    def writable(self) -> bool:
        return self.access != "read-only"

    def extract(self, value: int) -> int:
        return (value & self.mask) >> self.offset


@dataclass(frozen=True)
class RegisterInfo:
    name: str
    peripheral: str
    address: int
    size: int  # bits
    access: str
    reset_value: int
    reset_mask: int
    description: str
    fields: dict[str, FieldInfo]
    read_action: str = ""  # SVD readAction: reading changes the register (pops, clears)

    @property
    def path(self) -> str:
        return f"{self.peripheral}.{self.name}"

    def _mask(self, pred: Callable[[FieldInfo], bool]) -> int:
        m = 0
        for f in self.fields.values():
            if pred(f):
                m |= f.mask
        return m

    @property
    def implemented_mask(self) -> int:
        """Bits some field describes."""
        return self._mask(lambda f: True)

    @property
    def writable_mask(self) -> int:
        """Bits that hold what is written (read-write fields without write side effects)."""
        return self._mask(lambda f: f.access == "read-write" and not f.one_to_clear)

    @property
    def one_to_clear_mask(self) -> int:
        return self._mask(lambda f: f.one_to_clear)

    @property
    def read_only_mask(self) -> int:
        return self._mask(lambda f: f.access == "read-only")

    @property
    def observable(self) -> bool:
        """Readable without changing anything (a debugger may look at it freely)."""
        return self.access != "write-only" and not self.read_action


@dataclass(frozen=True)
class PeripheralInfo:
    name: str
    base: int
    size: int  # bytes of its address block(s)
    description: str
    registers: dict[str, RegisterInfo]


@dataclass(frozen=True)
class DeviceMap:
    name: str
    source: Path
    peripherals: dict[str, PeripheralInfo]

    def peripheral(self, name: str) -> PeripheralInfo:
        try:
            return self.peripherals[name]
        except KeyError:
            raise AttributeError(f"{self.source}: no peripheral {name!r}; known: "
                                 f"{', '.join(self.peripherals)}") from None


def _enum_name(value: Enum | None) -> str:
    return "" if value is None else str(value.value)


def _given(value: T | None, path: Path, what: str) -> T:
    """A value the SVD schema requires: the parser types every element optional, and a file
    that passed schema validation has it."""
    if value is None:
        raise ConfigError(f"{path}: {what} is missing")
    return value


def _expand(peripherals: list[SVDPeripheral | SVDPeripheralArray]) -> Iterator[SVDPeripheral]:
    """Peripherals with every ``dim`` array expanded into its elements."""
    from cmsis_svd.model import SVDPeripheral

    for p in peripherals:
        if isinstance(p, SVDPeripheral):
            yield p
        else:
            yield from p.peripherals


@functools.cache
def load_svd(path: Path | str) -> DeviceMap:
    """Parse and validate an SVD file (schema 1.3); errors name the file."""
    from cmsis_svd.parser import SVDParser, SVDParserValidationError
    from lxml import etree

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: SVD file not found")
    try:
        device = SVDParser.for_xml_file(path).get_device(
            xml_validation=True, schema_version=SVD_SCHEMA, schema_version_detection=False)
    except (SVDParserValidationError, etree.XMLSyntaxError) as exc:
        raise ConfigError(f"{path}: not a valid CMSIS-SVD file: {exc}") from None
    peripherals: dict[str, PeripheralInfo] = {}
    for p in _expand(device.peripherals):
        p_name = _given(p.name, path, "a peripheral's name")
        base = _given(p.base_address, path, f"peripheral {p_name}: baseAddress")
        regs: dict[str, RegisterInfo] = {}
        for r in p.get_registers():
            r_name = _given(r.name, path, f"peripheral {p_name}: a register's name")
            fields: dict[str, FieldInfo] = {}
            for f in r.get_fields():
                f_name = _given(f.name, path, f"register {p_name}.{r_name}: a field's name")
                where = f"field {p_name}.{r_name}.{f_name}"
                enums: dict[str, int] = {}
                for group in f.enumerated_values or ():
                    # an isDefault entry ("every other value") has no value of its own
                    enums.update({_given(e.name, path, f"{where}: an enumeratedValue's name"):
                                  e.value for e in group.enumerated_values
                                  if e.value is not None})
                fields[f_name] = FieldInfo(
                    name=f_name, offset=_given(f.bit_offset, path, f"{where}: bit offset"),
                    width=_given(f.bit_width, path, f"{where}: bit width"),
                    access=_enum_name(f.access or r.access) or "read-write",
                    one_to_clear=_enum_name(f.modified_write_values) == "oneToClear",
                    description=" ".join((f.description or "").split()), enums=enums)
            size = r.size or 32
            if size not in (8, 16, 32):
                raise ConfigError(f"{path}: register {p_name}.{r_name}: size {size} bits is "
                                  "not supported (8, 16 or 32)")
            for fi in fields.values():
                if fi.offset + fi.width > size:
                    raise ConfigError(f"{path}: field {p_name}.{r_name}.{fi.name} "
                                      f"(bits {fi.offset}..{fi.offset + fi.width - 1}) does "
                                      f"not fit the {size}-bit register")
            offset = _given(r.address_offset, path, f"register {p_name}.{r_name}: addressOffset")
            regs[r_name] = RegisterInfo(
                name=r_name, peripheral=p_name, address=base + offset,
                size=size, access=_enum_name(r.access) or "read-write",
                reset_value=r.reset_value or 0,
                reset_mask=(1 << size) - 1 if r.reset_mask is None else r.reset_mask,
                description=" ".join((r.description or "").split()), fields=fields,
                read_action=_enum_name(r.read_action) or next(
                    (_enum_name(f.read_action) for f in r.get_fields() if f.read_action), ""))
        span = max((_given(b.offset, path, f"peripheral {p_name}: addressBlock offset")
                    + _given(b.size, path, f"peripheral {p_name}: addressBlock size")
                    for b in p.address_blocks or ()), default=0)
        peripherals[p_name] = PeripheralInfo(
            name=p_name, base=base, size=span,
            description=" ".join((p.description or "").split()), registers=regs)
    return DeviceMap(name=_given(device.name, path, "the device's name"), source=path,
                     peripherals=peripherals)


# -- views over a memory ---------------------------------------------------------------------
class Register:
    """One register of one chip: read, write, and its fields as attributes."""

    __slots__ = ("info", "_memory")
    info: RegisterInfo
    _memory: Memory

    def __init__(self, info: RegisterInfo, memory: Memory) -> None:
        object.__setattr__(self, "info", info)
        object.__setattr__(self, "_memory", memory)

    def __repr__(self) -> str:
        return f"<Register {self.info.path} @0x{self.info.address:08x}>"

    @property
    def address(self) -> int:
        return self.info.address

    def read(self) -> int:
        nbytes = self.info.size // 8
        return int.from_bytes(self._memory.read(self.info.address, nbytes), "little")

    def write(self, value: int) -> None:
        limit = 1 << self.info.size
        if not 0 <= value < limit:
            raise ValueError(f"{self.info.path}: {value:#x} does not fit {self.info.size} bits")
        self._memory.write(self.info.address, value.to_bytes(self.info.size // 8, "little"))

    def field(self, name: str) -> FieldInfo:
        try:
            return self.info.fields[name]
        except KeyError:
            raise AttributeError(f"register {self.info.path} has no field {name!r}; fields: "
                                 f"{', '.join(self.info.fields) or '(none)'}") from None

    def fields(self) -> dict[str, int]:
        """Every field's value from one read."""
        value = self.read()
        return {n: f.extract(value) for n, f in self.info.fields.items()}

    def modify(self, **values: int) -> None:
        """Read-modify-write of some fields; write-1-to-clear bits not named are written 0."""
        infos = [self.field(n) for n in values]
        for f, v in zip(infos, values.values(), strict=True):
            if not f.writable:
                raise AttributeError(f"field {self.info.path}.{f.name} is {f.access}")
            if not 0 <= v < (1 << f.width):
                raise ValueError(f"field {self.info.path}.{f.name}: {v} does not fit "
                                 f"{f.width} bit(s)")
        current = self.read() & ~self.info.one_to_clear_mask
        for f, v in zip(infos, values.values(), strict=True):
            current = (current & ~f.mask) | (v << f.offset)
        self.write(current)

    def __getattr__(self, name: str) -> int:
        if name.startswith("_"):
            raise AttributeError(name)
        f = self.field(name)
        if not f.readable:
            raise AttributeError(f"field {self.info.path}.{name} is write-only")
        return f.extract(self.read())

    def __setattr__(self, name: str, value: int) -> None:
        self.modify(**{name: value})

    def __dir__(self):
        return [*super().__dir__(), *self.info.fields]


class Peripheral:
    """A peripheral's registers as attributes: ``regs.PWM.DUTY``."""

    def __init__(self, info: PeripheralInfo, memory: Memory) -> None:
        self.info = info
        self._memory = memory
        self._regs = {n: Register(r, memory) for n, r in info.registers.items()}

    def __repr__(self) -> str:
        return f"<Peripheral {self.info.name} @0x{self.info.base:08x}>"

    def __getattr__(self, name: str) -> Register:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._regs[name]
        except KeyError:
            raise AttributeError(f"peripheral {self.info.name} has no register {name!r}; "
                                 f"registers: {', '.join(self._regs)}") from None

    def __iter__(self):
        return iter(self._regs.values())

    def __dir__(self):
        return [*super().__dir__(), *self._regs]


class Registers:
    """Every peripheral of an SVD device, bound to one memory."""

    def __init__(self, device: DeviceMap, memory: Memory) -> None:
        self.device = device
        self.memory = memory
        self._periph = {n: Peripheral(p, memory) for n, p in device.peripherals.items()}

    @classmethod
    def from_svd(cls, path: Path | str, memory: Memory) -> Registers:
        return cls(load_svd(Path(path).resolve()), memory)

    def __getattr__(self, name: str) -> Peripheral:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._periph[name]
        except KeyError:
            raise AttributeError(f"{self.device.source}: no peripheral {name!r}; known: "
                                 f"{', '.join(self._periph)}") from None

    def __getitem__(self, name: str) -> Peripheral:
        return getattr(self, name)

    def __iter__(self):
        return iter(self._periph.values())

    def __dir__(self):
        return [*super().__dir__(), *self._periph]
