"""Per-run state behind the plugin: targets, firmware images, and the DUTs that are open.

The manager is the only way a DUT is opened (the ``dut`` fixtures and the C test collector
alike) and it owns every Dut it hands out. Scope is a key: ``function`` scope gets a new Dut
per test (from the world's pool when it has one); ``module``/``session`` scope reuse one per
(target, key) and replace it if it died. One owner, so nothing is leaked when a test fails or a
worker ends. Nothing here knows which worlds exist: that is the world registry's business.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from . import firmware as fw
from . import worlds
from .config import Target, TargetCatalog
from .dut import Dut
from .errors import ConfigError
from .settings import RunSettings

# (build command, image path) → the variant to use instead, or None (e.g. the coverage build)
Variant = Callable[[list[str] | None, Path], tuple[list[str] | None, Path] | None]


class DutManager:
    def __init__(self, settings: RunSettings, variant: Variant | None = None) -> None:
        self.settings = settings
        self._variant = variant
        self.catalog = TargetCatalog(settings.targets_dir)
        self.world = worlds.get(settings.world)
        self._open: dict[tuple[str, str], Dut] = {}
        self._pools: dict[tuple[str, str], worlds.Pool | None] = {}
        self._images: dict[str, fw.FirmwareImage] = {}

    def target(self, name: str) -> Target:
        return self.catalog.get(name)

    def image(self, target: Target) -> fw.FirmwareImage:
        """The target's image: built (when stale) and parsed once per run, not per test."""
        image = self._images.get(target.name)
        if image is None:
            image = self._images[target.name] = self._load_image(target)
        return image

    def firmware_build(self, build: list[str] | None,
                       image: Path) -> tuple[list[str] | None, Path]:
        """How the image built by ``build`` at ``image`` is built and where it lands in this
        run (a plugin may substitute a variant, e.g. the coverage build)."""
        other = self._variant(build, image) if self._variant is not None else None
        return other if other is not None else (build, image)

    def _load_image(self, target: Target) -> fw.FirmwareImage:
        firmware = self.settings.firmware
        override = firmware.get(target.name) or firmware.get("*")
        spec = target.firmware
        if override is not None:
            image = fw.load_override(override, spec)
        else:
            root = self.catalog.root
            command, path = self.firmware_build(spec.build, root / spec.path)
            if self.settings.build and command is not None:
                fw.build(command, path, [root / s for s in spec.sources], root)
            image = fw.load_image(path, spec.version_symbol, spec.load_address)
        problems = target.image_problems([(s.address, len(s.data)) for s in image.segments])
        if problems:
            raise ConfigError(f"{target.source}: the image {image.path.name} cannot run on "
                              f"{target.name}: " + "; ".join(problems))
        return image

    def check(self, target: Target) -> None:
        problems = self.world.check(target, self.settings)
        if problems:
            raise ConfigError("; ".join(problems))

    def open(self, target: Target, log_dir: Path | None, name: str | None = None,
             boot: bool = True, image: fw.FirmwareImage | None = None) -> Dut:
        """A new Dut owned by the caller (``image``: another image than the target's)."""
        self.check(target)
        return self.world.open(target, image or self.image(target), name=name or target.name,
                               log_dir=log_dir, settings=self.settings, boot=boot)

    def pool(self, target: Target) -> worlds.Pool | None:
        """The world's pool of reusable chips for ``target``'s image (None: it has none)."""
        image = self.image(target)
        key = (target.name, image.sha256)
        if key not in self._pools:
            self.check(target)
            self._pools[key] = self.world.pool(target, image, self.settings)
        return self._pools[key]

    def acquire(self, target: Target, key: str, log_dir: Path,
                boot: bool = True) -> tuple[Dut, bool]:
        """A Dut for ``key``; (dut, owned_by_caller). Function scope: always new and owned.

        With ``dut_reuse == "reset"`` a function-scoped Dut comes from the world's pool when
        it has one: a reused chip proven back at power-on state; closing it hands it back.
        """
        if self.settings.dut_scope == "function":
            pool = self.pool(target) if self.settings.dut_reuse != "fresh" else None
            if pool is not None:
                return pool.acquire(log_dir, boot=boot), True
            return self.open(target, log_dir, boot=boot), True
        slot = (target.name, key)
        dut = self._open.get(slot)
        if dut is not None and not dut.alive:
            dut.close()
            dut = None
        if dut is None:
            self._release_other_keys(target.name, key)
            dut = self._open[slot] = self.open(target, log_dir)
        return dut, False

    def _release_other_keys(self, target: str, key: str) -> None:
        for slot in [s for s in self._open if s[0] == target and s[1] != key]:
            self._open.pop(slot).close()

    def close_all(self) -> None:
        while self._open:
            _, dut = self._open.popitem()
            with contextlib.suppress(Exception):
                dut.close()
        while self._pools:
            _, pool = self._pools.popitem()
            if pool is not None:
                with contextlib.suppress(Exception):
                    pool.close()
