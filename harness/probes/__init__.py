"""The ``qemu:`` debug probe for pyOCD: QEMU's gdbstub dressed as an Arm debug port.

pyOCD speaks to a chip through a probe's DP/AP registers and a MEM-AP memory interface. This
package answers those the way an SWD probe on a Cortex-M would — DP/AP identification, the ROM
table, the core's debug registers (DHCSR, DCRSR/DCRDR, DEMCR, DFSR, AIRCR), the FPB — and turns
them into GDB remote packets for QEMU. Everything else is plain memory, forwarded to the stub.

Modules: ``coresight`` (DP/AP register model, component IDs), ``gdb_core`` (the chip as the
gdbstub shows it), ``debug_unit`` (the emulated debug registers), ``boards`` (pyOCD target
classes for the emulated boards), ``qemu_probe`` (the DebugProbe and its plugin), ``launch``
(start an emulated chip for ``qemu:auto`` or for pyOCD's own command line), ``cli``.
"""

# pyOCD loads its probe plugins (ours included) the first time it is imported. Importing it
# here, before any module of this package that defines the probe, keeps that from being a cycle.
import pyocd  # noqa: E402, F401
