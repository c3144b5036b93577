"""Chip time: QEMU's virtual clock of a chip run under ``-icount shift=N,sleep=off``, read
exactly.

Under icount QEMU's virtual clock (``QEMU_CLOCK_VIRTUAL``, the clock every emulated timer counts)
is ``icount_bias + (instructions executed << shift)``: each instruction takes 2^shift ns of chip
time, and while the core sleeps (WFI) ``sleep=off`` moves the bias straight to the next timer's
deadline instead of waiting for it. Chip time is then independent of the host: the same firmware
with the same inputs reaches the same point at the same chip time, on an idle machine or a busy
one, and an idle chip runs many times faster than the wall.

QEMU has no command that prints that clock, and most boards have no counter a debugger can read
that follows it (the Stellaris timers read 0). What every board has is its saved state: the
``timer/icount`` subsection holds both numbers. :meth:`VirtualClock.read_ns` halts the chip if
it runs (through its debugger), has QEMU write the state of its devices to a file (QMP
``xen-save-devices-state``: despite its name a generic command, which saves every device's
state and no RAM, synchronously, and leaves the VM's run state as it was), reads the two numbers
and resumes it. The chip's clock does not move while the VM is stopped, so a reading costs
~1.5 ms of wall time and no chip time. (A migration to a file holds the same subsection, but
copies all of RAM through QEMU's migration thread: ~10 ms, and it leaves the VM in
``postmigrate``, from which a resume too early aborts QEMU.)

The state stream's format: after the device section's fields, a subsection is
``0x05, len(name), name, version (be32)`` then its fields; ``timer/icount`` (version 1) holds
``qemu_icount_bias`` and ``qemu_icount`` as big-endian int64.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from ..errors import HarnessError, ProtocolError
from .qmp import QmpClient

SUBSECTION = 0x05
ICOUNT = b"timer/icount"


class NoChipClock(HarnessError):
    """The chip does not run on icount: its virtual clock follows the host's."""


def icount_of(stream: bytes) -> tuple[int, int]:
    """``(icount_bias, icount)`` from a QEMU state stream (devices saved, or a migration)."""
    marker = bytes((SUBSECTION, len(ICOUNT))) + ICOUNT
    at = stream.find(marker)
    if at < 0:
        raise NoChipClock("the VM's state has no timer/icount subsection: QEMU runs without "
                          "-icount, its virtual clock follows the host's")
    fields = at + len(marker) + 4  # the subsection's version
    if len(stream) < fields + 16:
        raise ProtocolError("QEMU's saved state ends inside its timer/icount subsection")
    bias, count = struct.unpack(">qq", stream[fields:fields + 16])
    return bias, count


def icount_shift(argv: list[str]) -> int | None:
    """The ``shift`` of an ``-icount shift=N,...`` QEMU argument (None: no icount)."""
    for opt, value in itertools.pairwise(argv):
        if opt == "-icount":
            for part in value.split(","):
                key, _, n = part.partition("=")
                if key == "shift" and n.isdigit():
                    return int(n)
            return None
    return None


class VirtualClock:
    """Exact readings of one QEMU's virtual clock, in ns (see the module's docstring)."""

    def __init__(self, qmp: QmpClient, shift: int, rundir: Path,
                 held: Callable[[], AbstractContextManager[object]]) -> None:
        """``held()``: a context in which the VM is stopped by its debugger (halted if it ran,
        resumed after), so the debugger's client keeps knowing whether the chip runs — a VM
        stopped behind its back (QMP ``stop``) would send it a stop reply nobody asked for."""
        self.qmp = qmp
        self.shift = shift
        self.rundir = rundir
        self.held = held
        self.reads = 0
        self._files = itertools.count()

    def read_ns(self) -> int:
        """The virtual clock now (a running chip is halted for the reading, then resumed)."""
        with self.held():
            return self._from_state()

    def _from_state(self) -> int:
        path = self.rundir / f"state-{next(self._files)}.bin"
        try:
            self.qmp.execute("xen-save-devices-state", filename=str(path), live=False)
            bias, count = icount_of(path.read_bytes())
        finally:
            path.unlink(missing_ok=True)
        self.reads += 1
        return bias + (count << self.shift)
