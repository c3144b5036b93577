"""The pyocd world: a pyOCD session over a debug probe.

``--probe UID`` picks a bench probe by unique id; ``qemu:auto`` starts QEMU behind the ``qemu:``
probe, so pyOCD itself flashes and drives an emulated chip. pyOCD loads when a Dut is opened.

Chip time (``--chip-time``, ``requires("clock")``) comes from the core's DWT cycle counter
(:mod:`harness.backends.pyocd_clock`), with the qemu world's semantics: ``on`` refuses a target
that cannot have it, ``auto`` gives it to every target that can. What can be known before a
chip is opened decides: for ``qemu:auto`` the board's instruction time and the installed QEMU
(its chips then run on icount, where the probe's DWT counts); for a bench probe the core
(ARMv6-M has no cycle counter). The part itself is checked when its probe opens: there a part
found without a usable counter stops ``on`` and, under ``auto``, runs on the host's time with
a warning.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..worlds import Pool, World

if TYPE_CHECKING:
    from ..config import Target
    from ..dut import Dut
    from ..firmware import FirmwareImage
    from ..settings import RunSettings

CAPABILITIES = frozenset({"memory", "symbols", "execution", "registers", "breakpoints",
                          "loader", "console", "channels"})
AUTO = "qemu:auto"
NO_CYCLE_COUNTER = ("cortex-m0", "cortex-m0plus")  # ARMv6-M: a DWT without CYCCNT


class PyocdWorld(World):
    name = "pyocd"
    description = "a pyOCD session over a debug probe (qemu:auto: QEMU behind the qemu: probe)"
    capabilities = CAPABILITIES

    def capabilities_for(self, settings: RunSettings,
                         target: Target | None = None) -> frozenset[str]:
        clocked = (settings.chip_time == "on" if target is None
                   else chip_time_for(target, settings))
        return CAPABILITIES | {"clock"} if clocked else CAPABILITIES

    def chip_time_problems(self, target: Target, settings: RunSettings) -> list[str]:
        return chip_time_problems(target, settings)

    def chip_time_note(self, settings: RunSettings) -> str:
        return "DWT cycle counters, each checked when its probe opens"

    def check(self, target: Target, settings: RunSettings) -> list[str]:
        from importlib.util import find_spec

        if find_spec("pyocd") is None:
            return ["the pyocd world needs pyOCD: pip install 'qsm-harness[pyocd]'"]
        if settings.probe == AUTO and target.qemu is None:
            return [f"{target.source}: no 'qemu' section; probe {AUTO} cannot emulate "
                    f"{target.name}"]
        if settings.chip_time == "on":
            return chip_time_problems(target, settings)
        return []

    def open(self, target: Target, image: FirmwareImage, *, name: str,
             log_dir: Path | None, settings: RunSettings, boot: bool = True) -> Dut:
        from .pyocd import open_dut

        return open_dut(chip_timed(target, settings), image, name=name, log_dir=log_dir,
                        timeout_factor=settings.timeout_factor, probe=settings.probe,
                        bench=settings.bench, slot=settings.slot, boot=boot,
                        chip_time=chip_time_mode(target, settings))

    def pool(self, target: Target, image: FirmwareImage, settings: RunSettings) -> Pool:
        from .pyocd_pool import PyocdPool

        if settings.dut_reuse == "snapshot":
            import warnings

            from .qemu_world import ReuseFallback

            warnings.warn(ReuseFallback(f"{target.name}: a debug probe has no snapshots; "
                                        "the pyocd world resets between tests"), stacklevel=1)

        return PyocdPool(chip_timed(target, settings), image, dict(
            timeout_factor=settings.timeout_factor, probe=settings.probe,
            bench=settings.bench, slot=settings.slot,
            chip_time=chip_time_mode(target, settings)))


def emulated(target: Target, settings: RunSettings) -> bool:
    """Whether ``target``'s chips are started by this world (``qemu:auto``): the probe asked
    for, else the bench inventory's for the target (none at all: ``qemu:auto``)."""
    if settings.probe is not None:
        return settings.probe == AUTO
    return all(p.uid == AUTO for p in settings.bench.probes_for(target.name))


def chip_time_problems(target: Target, settings: RunSettings) -> list[str]:
    """Why ``target`` cannot run on chip time in the pyocd world, as far as can be known before
    its probe opens (empty: it can)."""
    if emulated(target, settings):
        from ..emu import icount

        return icount.problems(target.board, target.source)
    if target.cpu in NO_CYCLE_COUNTER:
        return [f"{target.source}: a {target.cpu} (ARMv6-M) has no DWT cycle counter for chip "
                f"time"]
    return []


def chip_time_for(target: Target, settings: RunSettings) -> bool:
    """Whether ``target`` runs on chip time: ``on`` (a target that cannot is refused by
    :meth:`PyocdWorld.check`), ``off``, or ``auto``: wherever it can."""
    if settings.chip_time == "on":
        return True
    return settings.chip_time == "auto" and not chip_time_problems(target, settings)


def chip_time_mode(target: Target, settings: RunSettings) -> str:
    """What the backend is asked: "on" or "auto" where ``target`` runs on chip time, else
    "off"."""
    return settings.chip_time if chip_time_for(target, settings) else "off"


def chip_timed(target: Target, settings: RunSettings) -> Target:
    """``target`` with its ``qemu:auto`` QEMU on icount when it runs on chip time."""
    if not (chip_time_for(target, settings) and emulated(target, settings)):
        return target
    from .qemu_world import on_icount

    return on_icount(target)
