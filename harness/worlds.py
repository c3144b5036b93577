"""Worlds: what stands for the chip. A World opens Duts; a Pool hands out reused ones.

A world is a class registered under the ``harness.worlds`` entry point group, the way pyOCD
finds its probe plugins, so a world of your own is one module plus one entry point::

    [project.entry-points."harness.worlds"]
    myworld = "my_package.world:MyWorld"

The registry lists names without importing anything (``--world`` choices at start-up) and loads
a world's class only when it is selected. Class attributes (name, capabilities) must be cheap to
import: a world module defers its heavy imports to ``open``/``pool``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from .errors import ConfigError

if TYPE_CHECKING:
    from .config import Target
    from .dut import Dut
    from .firmware import FirmwareImage
    from .settings import RunSettings

GROUP = "harness.worlds"


class Pool(ABC):
    """Reusable chips of one target and image: each ``acquire`` gives one at power-on state,
    and closing that Dut hands the chip back. Whatever cannot be proven clean is replaced."""

    @abstractmethod
    def acquire(self, log_dir: Path | None = None, boot: bool = True) -> Dut:
        """A Dut at power-on state: booted, or (``boot=False``) halted at the reset vector."""

    @abstractmethod
    def close(self) -> None:
        """Stop every chip the pool holds."""


class World(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    capabilities: ClassVar[frozenset[str]]  # names from harness.protocols.CAPABILITIES

    def capabilities_for(self, settings: RunSettings,
                         target: Target | None = None) -> frozenset[str]:
        """The capabilities a run with ``settings`` has for ``target`` (None: any target); a
        run option may add some: chip time (``--chip-time``) adds ``clock``."""
        return self.capabilities

    def chip_time_problems(self, target: Target, settings: RunSettings) -> list[str] | None:
        """Why ``target`` cannot run on chip time here (empty: it can), as far as is known
        before a chip is opened; None: this world has no chip time at all."""
        return None

    def chip_time_note(self, settings: RunSettings) -> str:
        """What the run's header adds about this world's chip time (where it comes from)."""
        return ""

    def check(self, target: Target, settings: RunSettings) -> list[str]:
        """Why ``target`` cannot run in this world with these settings (empty: it can)."""
        return []

    @abstractmethod
    def open(self, target: Target, image: FirmwareImage, *, name: str,
             log_dir: Path | None, settings: RunSettings, boot: bool = True) -> Dut:
        """A new Dut owned by the caller: booted, or halted at the reset vector."""

    def pool(self, target: Target, image: FirmwareImage,
             settings: RunSettings) -> Pool | None:
        """A pool of reusable chips for ``target`` + ``image``; None: every test opens anew."""
        return None


@cache
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def names() -> list[str]:
    """Registered world names, without importing any world."""
    return sorted(_entry_points())


@cache
def get(name: str) -> World:
    """The world registered as ``name`` (loaded on first use, one instance per run)."""
    ep = _entry_points().get(name)
    if ep is None:
        raise ConfigError(f"unknown world {name!r}; known: {', '.join(names()) or 'none'} "
                          f"(entry point group {GROUP!r})")
    cls = ep.load()
    if not (isinstance(cls, type) and issubclass(cls, World)):
        raise ConfigError(f"entry point {GROUP}:{name} = {ep.value} is not a "
                          f"harness.worlds.World subclass")
    from .protocols import CAPABILITIES

    unknown = set(cls.capabilities) - set(CAPABILITIES)
    if unknown:
        raise ConfigError(f"world {name!r} ({ep.value}) declares unknown capabilities "
                          f"{sorted(unknown)}; known: {', '.join(sorted(CAPABILITIES))}")
    return cls()
