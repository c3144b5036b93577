"""C types of global variables, from an ELF's DWARF, for typed reads and writes by symbol.

``dut.symbols["stimulus.door_closed"] = 0`` needs to know that ``stimulus`` is a struct, where
``door_closed`` sits in it and that it is a signed 32-bit int. That is what this module extracts.
"""

from __future__ import annotations

import struct
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

_ATE_FLOAT = 0x04
_ATE_SIGNED = (0x05, 0x06)  # signed, signed_char
_ATE_CHAR = (0x06, 0x08)


@dataclass(frozen=True)
class CType(ABC):
    name: str
    size: int

    @abstractmethod
    def decode(self, data: bytes): ...

    @abstractmethod
    def encode(self, value) -> bytes: ...


@dataclass(frozen=True)
class Scalar(CType):
    signed: bool = False
    is_float: bool = False
    is_char: bool = False

    def decode(self, data: bytes):
        if self.is_float:
            return struct.unpack("<f" if self.size == 4 else "<d", data[: self.size])[0]
        return int.from_bytes(data[: self.size], "little", signed=self.signed)

    def encode(self, value) -> bytes:
        if self.is_float:
            return struct.pack("<f" if self.size == 4 else "<d", float(value))
        value = int(value)
        lo = -(1 << (8 * self.size - 1)) if self.signed else 0
        hi = (1 << (8 * self.size - (1 if self.signed else 0))) - 1
        if not lo <= value <= hi:
            raise ValueError(f"{value} does not fit {self.name} ({lo}..{hi})")
        return value.to_bytes(self.size, "little", signed=self.signed)


@dataclass(frozen=True)
class Array(CType):
    element: CType
    count: int = 0

    def decode(self, data: bytes):
        if isinstance(self.element, Scalar) and self.element.is_char:
            return data[: self.size].split(b"\0", 1)[0].decode("latin-1")
        n = self.element.size
        return [self.element.decode(data[i * n:(i + 1) * n]) for i in range(self.count)]

    def encode(self, value) -> bytes:
        if isinstance(value, str):
            raw = value.encode("latin-1")
            if len(raw) > self.size:
                raise ValueError(f"{len(raw)} bytes do not fit {self.name}[{self.count}]")
            return raw.ljust(self.size, b"\0")
        if len(value) != self.count:
            raise ValueError(f"expected {self.count} elements, got {len(value)}")
        return b"".join(self.element.encode(v) for v in value)


@dataclass(frozen=True)
class Struct(CType):
    fields: dict[str, tuple[int, CType]] = field(default_factory=dict)

    def decode(self, data: bytes):
        return {name: t.decode(data[off:off + t.size]) for name, (off, t) in self.fields.items()}

    def encode(self, value) -> bytes:
        raise TypeError(f"write the fields of struct {self.name} one by one")

    def member(self, name: str) -> tuple[int, CType]:
        try:
            return self.fields[name]
        except KeyError:
            raise KeyError(f"struct {self.name} has no field {name!r}; fields: "
                           f"{', '.join(self.fields)}") from None


def unsigned(size: int) -> Scalar:
    return Scalar(f"uint{8 * size}", size)


def _resolve(die, cache: dict) -> CType:
    key = die.offset
    if key in cache:
        return cache[key]
    tag = die.tag
    attrs = die.attributes
    name = attrs["DW_AT_name"].value.decode() if "DW_AT_name" in attrs else ""
    if tag in ("DW_TAG_typedef", "DW_TAG_const_type", "DW_TAG_volatile_type",
               "DW_TAG_restrict_type"):
        if "DW_AT_type" not in attrs:
            t: CType = unsigned(1)
        else:
            t = _resolve(die.get_DIE_from_attribute("DW_AT_type"), cache)
    elif tag == "DW_TAG_base_type":
        enc = attrs["DW_AT_encoding"].value
        t = Scalar(name, attrs["DW_AT_byte_size"].value, signed=enc in _ATE_SIGNED,
                   is_float=enc == _ATE_FLOAT, is_char=enc in _ATE_CHAR)
    elif tag in ("DW_TAG_pointer_type", "DW_TAG_enumeration_type"):
        size = attrs["DW_AT_byte_size"].value if "DW_AT_byte_size" in attrs else 4
        t = Scalar(name or "pointer", size)
    elif tag == "DW_TAG_structure_type":
        fields = {}
        for child in die.iter_children():
            if child.tag != "DW_TAG_member" or "DW_AT_name" not in child.attributes:
                continue
            loc = child.attributes.get("DW_AT_data_member_location")
            off = loc.value if loc is not None and isinstance(loc.value, int) else 0
            fields[child.attributes["DW_AT_name"].value.decode()] = (
                off, _resolve(child.get_DIE_from_attribute("DW_AT_type"), cache))
        t = Struct(name or "<anonymous>", attrs["DW_AT_byte_size"].value, fields)
    elif tag == "DW_TAG_array_type":
        elem = _resolve(die.get_DIE_from_attribute("DW_AT_type"), cache)
        count = 1
        for sub in die.iter_children():
            if sub.tag == "DW_TAG_subrange_type":
                a = sub.attributes
                if "DW_AT_count" in a:
                    count *= a["DW_AT_count"].value
                elif "DW_AT_upper_bound" in a:
                    count *= a["DW_AT_upper_bound"].value + 1
        t = Array(f"{elem.name}[{count}]", elem.size * count, elem, count)
    else:
        size = attrs["DW_AT_byte_size"].value if "DW_AT_byte_size" in attrs else 4
        t = unsigned(size)
    cache[key] = t
    return t


def variable_types(dwarf) -> dict[str, CType]:
    """Name → C type of every global variable the DWARF describes."""
    out: dict[str, CType] = {}
    cache: dict = {}
    for cu in dwarf.iter_CUs():
        for die in cu.get_top_DIE().iter_children():
            if die.tag != "DW_TAG_variable":
                continue
            spec = die
            if "DW_AT_specification" in die.attributes:
                spec = die.get_DIE_from_attribute("DW_AT_specification")
            if "DW_AT_name" not in spec.attributes or "DW_AT_type" not in spec.attributes:
                continue
            name = spec.attributes["DW_AT_name"].value.decode()
            out.setdefault(name, _resolve(spec.get_DIE_from_attribute("DW_AT_type"), cache))
    return out
