"""The cycle count of an emulated core: QEMU's virtual clock on icount, read through the gdbstub.

Under ``-icount shift=N,sleep=off`` every instruction takes 2^N ns of QEMU's virtual clock and a
sleeping core (WFI) skips to its next timer deadline (see :mod:`harness.emu.vclock`). The
``qemu:`` probe's DWT counts one cycle per 2^N ns of that clock — ``virtual ns >> N`` — so the
count is exact and the same on an idle host and a busy one, and it goes on while the core
sleeps, as a cycle counter clocked by the core's clock does.

The probe has a gdbstub and nothing else, and it may run in another process than the QEMU's
owner (``pyocd commander`` on a chip of ``python -m harness.probes.launch``). So:

* the shift comes from the QEMU's own command line: the kernel names the process at the other
  end of the gdbstub's unix socket (``SO_PEERCRED``), ``/proc/<pid>/cmdline`` has its
  ``-icount``. A gdbstub reached over TCP has no such peer: no cycle count there;
* the clock is read as the qemu world reads it, from the VM's migration stream, but asked for
  through the gdbstub's monitor (HMP ``migrate exec:...``, which QEMU runs detached, then
  ``info migrate`` until it completed and ``info status`` until the VM is ``postmigrate``)
  into the gdbstub socket's own directory. The VM is halted for the reading (~10 ms of wall
  time, no chip time) and resumed after.

QEMU refuses to write a state out twice without the VM running in between (``postmigrate``):
then nothing ran since the last reading, whose clock still holds. A second reader of the same
VM's clock (another QMP client migrating it) would make that last reading stale: one reader
per chip, as there is one debugger per chip.
"""

from __future__ import annotations

import itertools
import os
import socket
import struct
import time
from pathlib import Path

from .. import patience
from ..emu.vclock import icount_of, icount_shift
from ..errors import HarnessError, ProtocolError
from .gdb_core import GdbCore

COMPLETED = "Migration status: completed"


def peer_argv(sock: socket.socket) -> tuple[int, list[str]] | None:
    """(pid, command line) of the process at the other end of a unix socket, None when the
    kernel cannot say (not a unix socket, the process is gone)."""
    if sock.family != socket.AF_UNIX:
        return None
    try:
        cred = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid = struct.unpack("3i", cred)[0]
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, struct.error):
        return None
    return pid, [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def socket_dir(sock: socket.socket) -> Path | None:
    """The directory of a unix socket's path (the server's: ours or QEMU's)."""
    with_path = [p for p in (sock.getpeername(), sock.getsockname()) if isinstance(p, str) and p]
    return Path(with_path[0]).parent if with_path else None


class IcountCycles:
    """Cycles of one QEMU core on icount: ``virtual ns >> shift`` (see the module's docstring)."""

    def __init__(self, core: GdbCore, shift: int, rundir: Path) -> None:
        self.core = core
        self.shift = shift
        self.rundir = rundir
        self.reads = 0
        self._files = itertools.count()
        self._last: int | None = None

    @property
    def cycle_ns(self) -> int:
        """Chip ns per cycle: 2^shift."""
        return 1 << self.shift

    def now(self) -> int:
        """Cycles since QEMU started (a running core is halted for the reading, then resumed)."""
        return self.read_ns() >> self.shift

    def read_ns(self) -> int:
        """QEMU's virtual clock, in ns."""
        with self.core.paused():
            if self._last is not None and "postmigrate" in self.core.rsp.monitor("info status"):
                return self._last  # nothing ran since the last reading
            self._last = self._from_stream()
            return self._last

    def _from_stream(self) -> int:
        path = self.rundir / f"clock-{os.getpid()}-{next(self._files)}.bin"
        monitor = self.core.rsp.monitor
        try:
            monitor(f"migrate exec:cat>{path}")
            deadline = time.monotonic() + patience.limit("qmp")
            while COMPLETED not in (status := monitor("info migrate")):
                if "failed" in status or "cancelled" in status or time.monotonic() > deadline:
                    raise ProtocolError(f"{self.core.name}: writing the VM's state for its "
                                        f"clock did not complete: {status.strip()[-200:]}")
                time.sleep(0.001)
            # QEMU's migration thread moves the VM to postmigrate after it says "completed":
            # a VM resumed in between aborts QEMU ("invalid runstate transition: 'running' ->
            # 'postmigrate'"), as seen on a loaded host. Not resumed before then.
            while "postmigrate" not in (status := monitor("info status")):
                if time.monotonic() > deadline:
                    raise ProtocolError(f"{self.core.name}: the VM did not settle after "
                                        f"writing its state: {status.strip()}")
                time.sleep(0.001)
            bias, count = self._icount(path, deadline)
        finally:
            path.unlink(missing_ok=True)
        self.reads += 1
        return bias + (count << self.shift)

    @staticmethod
    def _icount(path: Path, deadline: float) -> tuple[int, int]:
        """The stream's icount, once ``cat`` has written all of it (it may still be writing
        when QEMU says the migration completed)."""
        while True:
            try:
                return icount_of(path.read_bytes())
            except (HarnessError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.001)


def for_gdbstub(core: GdbCore, sock: socket.socket) -> tuple[IcountCycles | None, str]:
    """The cycle count of the QEMU behind ``sock`` (the gdbstub's connection), or None and why
    it has none."""
    peer = peer_argv(sock)
    if peer is None:
        return None, ("the probe cannot see the QEMU's command line (a gdbstub over TCP, or its "
                      "process is gone), so not whether it runs on -icount")
    pid, argv = peer
    shift = icount_shift(argv)
    rundir = socket_dir(sock)
    if shift is None or rundir is None:
        return None, (f"QEMU (pid {pid}) runs without -icount shift=N: its clock follows the "
                      f"host's, not the instructions it runs (start it on chip time: "
                      f"--chip-time, or python -m harness.probes.launch --chip-time)")
    return IcountCycles(core, shift, rundir), ""
