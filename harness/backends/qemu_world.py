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

    def check(self, target: Target, settings: RunSettings) -> list[str]:
        if target.qemu is None:
            return [f"{target.source}: no 'qemu' section; {target.name} cannot run in the "
                    "qemu world"]
        return []

    def open(self, target: Target, image: FirmwareImage, *, name: str,
             log_dir: Path | None, settings: RunSettings, boot: bool = True) -> Dut:
        from .qemu import open_dut

        return open_dut(target, image, name=name, log_dir=log_dir,
                        timeout_factor=settings.timeout_factor, boot=boot)

    def pool(self, target: Target, image: FirmwareImage, settings: RunSettings) -> Pool:
        from .qemu_pool import QemuPool

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


class ReuseFallback(UserWarning):
    """A --dut-reuse mode this target cannot have; the run uses the next best."""


def snapshot_support(target: Target) -> str | None:
    """None when QEMU's snapshots restore ``target``'s board, else why not (its profile)."""
    if target.board is None:
        return "the target names no board profile to say whether QEMU's snapshots work on it"
    from ..config import board_profile

    status = board_profile(target.board).snapshots
    return None if status == "ok" else f"board {target.board}: {status}"
