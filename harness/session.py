"""Per-run state behind the plugin: targets, firmware images, and the DUTs that are open.

The manager owns every Dut it hands out. Scope is a key: ``function`` scope gets a new Dut per
test (closed at its teardown); ``module``/``session`` scope reuse one per (target, key) and
replace it if it died. One owner, so nothing is leaked when a test fails or a worker ends.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import firmware as fw
from . import worlds
from .config import Target, TargetCatalog
from .dut import Dut
from .errors import ConfigError


@dataclass
class Options:
    targets_dir: Path
    results: Path
    world: str = "qemu"
    firmware: dict[str, Path] = field(default_factory=dict)  # target name ('*' any) → ELF
    dut_scope: str = "function"
    timeout_factor: float = 1.0
    build: bool = True
    probe: str | None = None  # pyocd world: probe unique id
    dut_reuse: str = "reset"  # "reset": warm chips reset between tests; "fresh": a new process
    bench: object = None  # harness.bench.Bench: the inventory (pyocd world: probes to lease)
    slot: int | None = None  # this worker's bench slot


def parse_firmware_option(values: list[str]) -> dict[str, Path]:
    """``--firmware PATH`` (any target) or ``--firmware TARGET=PATH``."""
    out: dict[str, Path] = {}
    for v in values:
        name, sep, path = v.partition("=")
        if sep and not Path(v).exists():
            out[name] = Path(path)
        else:
            out["*"] = Path(v)
    return out


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:150]


class DutManager:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.catalog = TargetCatalog(options.targets_dir)
        self.world = worlds.get(options.world)
        self._open: dict[tuple[str, str], Dut] = {}
        self._pools: dict[tuple[str, str], object] = {}
        self._images: dict[str, fw.FirmwareImage] = {}

    def target(self, name: str) -> Target:
        return self.catalog.get(name)

    def image(self, target: Target) -> fw.FirmwareImage:
        """The target's image: built (when stale) and parsed once per run, not per test."""
        image = self._images.get(target.name)
        if image is None:
            image = self._images[target.name] = self._load_image(target)
        return image

    def _load_image(self, target: Target) -> fw.FirmwareImage:
        override = self.options.firmware.get(target.name) or self.options.firmware.get("*")
        spec = target.firmware
        if override is not None:
            return fw.load_image(override, spec.version_symbol)
        root = self.catalog.root
        elf = root / spec.elf
        if self.options.build:
            fw.build(spec.build, elf, [root / s for s in spec.sources], root)
        return fw.load_image(elf, spec.version_symbol)

    def open(self, target: Target, log_dir: Path | None, name: str | None = None,
             boot: bool = True) -> Dut:
        if self.options.world == "qemu" and target.qemu is None:
            raise ConfigError(f"{target.source}: no 'qemu' section; {target.name} cannot run "
                              f"in the qemu world")
        return self.world.open(target, self.image(target), name=name, log_dir=log_dir,
                               timeout_factor=self.options.timeout_factor,
                               probe=self.options.probe, boot=boot,
                               bench=self.options.bench, slot=self.options.slot)

    def pool(self, target: Target):
        """The pool of reusable chips for ``target``'s current image in this world."""
        image = self.image(target)
        key = (target.name, image.sha256)
        pool = self._pools.get(key)
        if pool is None:
            if self.options.world == "pyocd":
                from .backends.pyocd_pool import PyocdPool

                pool = PyocdPool(target, image, dict(
                    timeout_factor=self.options.timeout_factor, probe=self.options.probe,
                    bench=self.options.bench, slot=self.options.slot))
            else:
                from .backends.qemu_pool import QemuPool

                pool = QemuPool(target, image, self.options.timeout_factor)
            self._pools[key] = pool
        return pool

    def acquire(self, target: Target, key: str, log_dir: Path,
                boot: bool = True) -> tuple[Dut, bool]:
        """A Dut for ``key``; (dut, owned_by_caller). Function scope: always new and owned.

        With ``dut_reuse == "reset"`` (qemu world) a function-scoped Dut comes from the pool:
        a warm chip proven back at power-on state; closing it returns it to the pool.
        """
        if self.options.dut_scope == "function":
            if self.options.dut_reuse == "reset" and self.options.world == "qemu":
                return self.pool(target).acquire(log_dir, boot=boot), True
            if self.options.dut_reuse == "reset" and self.options.world == "pyocd" and boot:
                return self.pool(target).acquire(log_dir), True
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
            with contextlib.suppress(Exception):
                pool.close()
