"""The ``qemu:`` debug probe for pyOCD: QEMU's gdbstub dressed as an Arm debug port.

pyOCD speaks to a chip through a probe's DP/AP registers and a MEM-AP memory interface. This
package answers those the way an SWD probe on a Cortex-M would — DP/AP identification, the ROM
table, the core's debug registers (DHCSR, DCRSR/DCRDR, DEMCR, DFSR, AIRCR), the FPB — and turns
them into GDB remote packets for QEMU. Everything else is plain memory, forwarded to the stub.

Modules: ``coresight`` (DP/AP register model, component IDs), ``gdb_core`` (the chip as the
gdbstub shows it), ``debug_unit`` (the emulated debug registers), ``dwt`` and ``cycles`` (its
cycle counter, from QEMU's clock on icount), ``boards`` (pyOCD target classes for the emulated
boards), ``qemu_probe`` (the DebugProbe and its plugin), ``launch`` (start an emulated chip
for ``qemu:auto`` or for pyOCD's own command line), ``cli``. They
build on :mod:`harness.emu` (the gdbstub client, QEMU processes), never on the worlds in
:mod:`harness.backends`; :func:`emulated_core` and :func:`emulated_dwt` are what a world may
ask of this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# pyOCD loads its probe plugins (ours included) the first time it is imported. Importing it
# here, before any module of this package that defines the probe, keeps that from being a cycle.
import pyocd  # noqa: F401

if TYPE_CHECKING:
    from .dwt import Dwt
    from .gdb_core import GdbCore


def emulated_core(session: object) -> GdbCore | None:
    """The chip behind a pyOCD session as the ``qemu:`` probe drives it — a
    :class:`~harness.probes.gdb_core.GdbCore` (``store_table``, ``read``/``write`` through the
    gdbstub) — or None when the session's probe is not a ``qemu:`` probe (a bench probe) or is
    closed. With :func:`emulated_dwt`, the only ways code outside this package reaches our probe
    through pyOCD."""
    from .qemu_probe import QemuProbe

    probe = getattr(session, "probe", None)
    return probe.core if isinstance(probe, QemuProbe) and probe.is_open else None


def emulated_dwt(session: object) -> Dwt | None:
    """The DWT of the chip behind a ``qemu:`` probe (:class:`~harness.probes.dwt.Dwt`:
    ``cycle_ns``, the chip ns per cycle its CYCCNT counts, and ``why_not``, why it has no
    cycle counter), or None when the session's probe is not a ``qemu:`` probe or is closed."""
    from .qemu_probe import QemuProbe

    probe = getattr(session, "probe", None)
    unit = probe.unit if isinstance(probe, QemuProbe) and probe.is_open else None
    return unit.dwt if unit is not None else None
