"""Typed descriptions of RTL blocks (``firmware/rtl/blocks.yaml``).

An RTL block is not a chip: it has no firmware, console or memory map of its own, so it has
its own small model here instead of a ``targets/*.yaml`` file. Paths are relative to the
directory of the block file; every field is checked and an error names the file and the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...config import load_model
from ...errors import ConfigError

SIMULATORS = ("icarus", "verilator")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Clock(_Model):
    signal: str = "clk"
    period_ns: Annotated[int, Field(gt=0, multiple_of=2)] = 10


class Reset(_Model):
    signal: str = "rst_n"
    active_low: bool = True
    cycles: Annotated[int, Field(ge=1)] = 4


class Pin(_Model):
    signal: str
    direction: Literal["in", "out"]
    idle: int | None = Field(default=None, description="value driven before reset (inputs)")


class Block(_Model):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str
    toplevel: str
    sources: list[Path] = Field(min_length=1)
    svd: Path
    peripheral: str = Field(description="the SVD peripheral this block implements")
    bus: Literal["apb4"] = "apb4"
    bus_prefix: str = "p"
    clock: Clock = Clock()
    reset: Reset = Reset()
    pins: dict[str, Pin] = Field(default_factory=dict)
    # Where the file was read from and the project root; set by the loader.
    root: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _idle_only_on_inputs(self):
        for name, pin in self.pins.items():
            if pin.idle is not None and pin.direction != "in":
                raise ValueError(f"pins.{name}: 'idle' is only for inputs")
        return self

    def path(self, p: Path) -> Path:
        return p if p.is_absolute() else (self.root or Path.cwd()) / p

    @property
    def source_paths(self) -> list[Path]:
        return [self.path(s) for s in self.sources]

    @property
    def svd_path(self) -> Path:
        return self.path(self.svd)

    def bridge_env(self) -> str:
        """What the bridge inside the simulator needs, as JSON."""
        return json.dumps({
            "clock": self.clock.model_dump(), "reset": self.reset.model_dump(),
            "bus_prefix": self.bus_prefix,
            "pins": [dict(name=n, **p.model_dump()) for n, p in self.pins.items()],
        })


class BlockFile(_Model):
    blocks: list[Block] = Field(min_length=1)


def load_blocks(path: Path) -> dict[str, Block]:
    """Read a block file; check that every source and the SVD exist."""
    path = Path(path).resolve()
    root = path.parent
    parsed = load_model(path, BlockFile, "RTL block description")
    blocks: dict[str, Block] = {}
    for i, b in enumerate(parsed.blocks):
        b = b.model_copy(update={"root": root})
        where = f"{path}: field 'blocks.{i}"
        if b.name in blocks:
            raise ConfigError(f"{where}.name': block {b.name!r} is described twice")
        for j, src in enumerate(b.source_paths):
            if not src.is_file():
                raise ConfigError(f"{where}.sources.{j}': {src} does not exist")
        if not b.svd_path.is_file():
            raise ConfigError(f"{where}.svd': {b.svd_path} does not exist")
        blocks[b.name] = b
    return blocks
