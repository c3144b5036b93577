"""The qemu world: QEMU system emulation of the CPU and board, running the real firmware image.

Only the class is defined at import time; QEMU's clients load when a Dut is opened.
"""

from __future__ import annotations

import warnings
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


class QemuWorld(World):
    name = "qemu"
    description = "QEMU system emulation of the CPU and board, real firmware image"
    capabilities = CAPABILITIES

    def capabilities_for(self, settings: RunSettings,
                         target: Target | None = None) -> frozenset[str]:
        clocked = (settings.chip_time == "on" if target is None
                   else chip_time_for(target, settings))
        return CAPABILITIES | {"clock"} if clocked else CAPABILITIES

    def chip_time_problems(self, target: Target, settings: RunSettings) -> list[str]:
        if target.qemu is None:
            return [f"{target.source}: no 'qemu' section"]
        return chip_time_problems(target, settings)

    def check(self, target: Target, settings: RunSettings) -> list[str]:
        if target.qemu is None:
            return [f"{target.source}: no 'qemu' section; {target.name} cannot run in the "
                    "qemu world"]
        if settings.chip_time == "on":
            return chip_time_problems(target, settings)
        return []

    def open(self, target: Target, image: FirmwareImage, *, name: str,
             log_dir: Path | None, settings: RunSettings, boot: bool = True) -> Dut:
        from .qemu import open_dut

        return open_dut(chip_timed(target, settings), image, name=name, log_dir=log_dir,
                        timeout_factor=settings.timeout_factor, boot=boot)

    def pool(self, target: Target, image: FirmwareImage, settings: RunSettings) -> Pool:
        from .qemu_pool import QemuPool

        target = chip_timed(target, settings)
        why = snapshot_support(target) if settings.dut_reuse == "snapshot" else None
        if why:  # said before any chip starts (a warning turned error leaks nothing)
            warnings.warn(ReuseFallback(f"{target.name}: --dut-reuse snapshot not available "
                                        f"({why}); reset between tests instead"), stacklevel=1)
        cold = QemuPool(target, image, settings.timeout_factor)
        if settings.dut_reuse != "snapshot" or why:
            return cold
        from .qemu_snapshot import SnapshotPool

        try:
            return SnapshotPool(target, image, settings.timeout_factor, cold=cold)
        except BaseException:
            cold.close()
            raise


def chip_time_for(target: Target, settings: RunSettings) -> bool:
    """Whether ``target`` runs on chip time: ``--chip-time on`` (a target that cannot is
    refused by :meth:`QemuWorld.check`), ``off``, or ``auto``: wherever it can."""
    if settings.chip_time == "on":
        return True
    if settings.chip_time != "auto" or target.qemu is None:
        return False
    return not chip_time_problems(target, settings)


def chip_time_shift(target: Target) -> int | None:
    """The icount shift of ``target``'s board (2^shift ns per instruction), None if unknown."""
    from ..emu.icount import board_shift

    return board_shift(target.board)


def chip_time_problems(target: Target, settings: RunSettings) -> list[str]:
    from ..emu import icount

    return icount.problems(target.board, target.source, check_version=target.qemu is not None)


def chip_timed(target: Target, settings: RunSettings) -> Target:
    """``target`` run on chip time when the run asks for it: QEMU's ``-icount
    shift=N,sleep=off`` (see :mod:`harness.emu.vclock`)."""
    return on_icount(target) if chip_time_for(target, settings) else target


def on_icount(target: Target) -> Target:
    """``target`` with its QEMU on its board's icount shift (unchanged when it has none)."""
    from ..emu.icount import icount_args

    shift = chip_time_shift(target)
    if shift is None or target.qemu is None:
        return target
    qemu = target.qemu.model_copy(update={
        "extra_args": [*target.qemu.extra_args, *icount_args(shift)]})
    return target.model_copy(update={"qemu": qemu})


class ReuseFallback(UserWarning):
    """A --dut-reuse mode this target cannot have; the run uses the next best."""


def snapshot_support(target: Target) -> str | None:
    """None when QEMU's snapshots restore ``target``'s board, else why not (its profile)."""
    if target.board is None:
        return "the target names no board profile to say whether QEMU's snapshots work on it"
    from ..config import board_profile

    status = board_profile(target.board).snapshots
    return None if status == "ok" else f"board {target.board}: {status}"
