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
    if target.board is None:
        return None
    from ..config import board_profile

    return board_profile(target.board).chip_time_shift


# QEMU 7.2 (Debian 12's own) loses every other timer interrupt of a sleeping core under icount
# sleep=off: a 1 ms SysTick counted 0.5 per ms of chip time. 10.0 counts it exactly.
CHIP_TIME_QEMU = (10, 0)


def chip_time_problems(target: Target, settings: RunSettings) -> list[str]:
    from ..emu.process import qemu_version

    problems = []
    if target.qemu is not None and (found := qemu_version()) < CHIP_TIME_QEMU:
        need = ".".join(map(str, CHIP_TIME_QEMU))
        problems.append(f"--chip-time on needs QEMU {need} or later, and "
                        f"{'.'.join(map(str, found))} is installed: its icount loses every "
                        f"other timer interrupt of a sleeping core, so firmware time would run "
                        f"at half speed (on Debian 12: apt-get install -t bookworm-backports "
                        f"qemu-system-arm; or run with --chip-time off)")
    if chip_time_shift(target) is None:
        problems.append(f"{target.source}: --chip-time on needs the board's instruction time "
                        f"(chip_time_shift in its profile); board {target.board or 'none'} "
                        f"has none")
    if settings.dut_reuse == "snapshot":
        problems.append("--chip-time on and --dut-reuse snapshot do not go together (reading "
                        "the chip's clock writes its state out, which leaves QEMU's snapshot "
                        "drive inactive)")
    return problems


def chip_timed(target: Target, settings: RunSettings) -> Target:
    """``target`` run on chip time when the run asks for it: QEMU's ``-icount
    shift=N,sleep=off`` (see :mod:`harness.emu.vclock`)."""
    shift = chip_time_shift(target) if chip_time_for(target, settings) else None
    if shift is None or target.qemu is None:
        return target
    qemu = target.qemu.model_copy(update={
        "extra_args": [*target.qemu.extra_args, "-icount", f"shift={shift},sleep=off"]})
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
