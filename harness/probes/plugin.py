"""pyOCD plugin entry (``pyocd.probe`` group): the ``qemu`` probe type.

Kept apart from :mod:`qemu_probe` so that pyOCD loading its plugins while our module is being
imported cannot form an import cycle: the probe class is imported in :meth:`load`.
"""

from __future__ import annotations

from pyocd.core.plugin import Plugin


class QemuProbePlugin(Plugin):
    def load(self):
        from .qemu_probe import QemuProbe

        return QemuProbe

    @property
    def name(self) -> str:
        return "qemu"

    @property
    def description(self) -> str:
        return "QEMU gdbstub as a Cortex-M debug probe (QSM Harness)"
