"""The qemu world: QEMU system emulation of the CPU and board, running the real firmware image.

Only the class is defined at import time; QEMU's clients load when a Dut is opened.
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

        return QemuPool(target, image, settings.timeout_factor)
