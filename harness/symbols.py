"""Typed access to firmware variables by name: ``dut.symbols["stimulus.door_closed"] = 0``."""

from __future__ import annotations

from .ctypes_dwarf import Struct
from .firmware import FirmwareImage
from .protocols import Memory


class SymbolView:
    def __init__(self, image: FirmwareImage, memory: Memory) -> None:
        self.image = image
        self.memory = memory

    def address(self, path: str) -> int:
        return self.image.resolve(path)[0]

    def __getitem__(self, path: str):
        address, ctype = self.image.resolve(path)
        return ctype.decode(self.memory.read(address, ctype.size))

    def __setitem__(self, path: str, value) -> None:
        address, ctype = self.image.resolve(path)
        if isinstance(ctype, Struct):
            if not isinstance(value, dict):
                raise TypeError(f"{path} is struct {ctype.name}: assign a dict of fields")
            self.update(path, **value)
            return
        self.memory.write(address, ctype.encode(value))

    def update(self, path: str, **fields) -> None:
        """Write several fields of a struct (each field written on its own, in order)."""
        for name, value in fields.items():
            self[f"{path}.{name}"] = value

    def __contains__(self, path: str) -> bool:
        try:
            self.image.resolve(path)
        except KeyError:
            return False
        return True
