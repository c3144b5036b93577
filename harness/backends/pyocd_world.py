"""The pyocd world: a pyOCD session over a debug probe.

``--probe UID`` picks a bench probe by unique id; ``qemu:auto`` starts QEMU behind the ``qemu:``
probe, so pyOCD itself flashes and drives an emulated chip. pyOCD loads when a Dut is opened.
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


class PyocdWorld(World):
    name = "pyocd"
    description = "a pyOCD session over a debug probe (qemu:auto: QEMU behind the qemu: probe)"
    capabilities = CAPABILITIES

    def check(self, target: Target, settings: RunSettings) -> list[str]:
        from importlib.util import find_spec

        if find_spec("pyocd") is None:
            return ["the pyocd world needs pyOCD: pip install 'qsm-harness[pyocd]'"]
        if settings.probe == AUTO and target.qemu is None:
            return [f"{target.source}: no 'qemu' section; probe {AUTO} cannot emulate "
                    f"{target.name}"]
        return []

    def open(self, target: Target, image: FirmwareImage, *, name: str,
             log_dir: Path | None, settings: RunSettings, boot: bool = True) -> Dut:
        from .pyocd import open_dut

        return open_dut(target, image, name=name, log_dir=log_dir,
                        timeout_factor=settings.timeout_factor, probe=settings.probe,
                        bench=settings.bench, slot=settings.slot, boot=boot)

    def pool(self, target: Target, image: FirmwareImage, settings: RunSettings) -> Pool:
        from .pyocd_pool import PyocdPool

        if settings.dut_reuse == "snapshot":
            import warnings

            from .qemu_world import ReuseFallback

            warnings.warn(ReuseFallback(f"{target.name}: a debug probe has no snapshots; "
                                        "the pyocd world resets between tests"), stacklevel=1)

        return PyocdPool(target, image, dict(
            timeout_factor=settings.timeout_factor, probe=settings.probe,
            bench=settings.bench, slot=settings.slot))
