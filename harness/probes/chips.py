"""The emulated chips a ``qemu:`` probe can stand for, and who holds each one.

Two ways a QEMU comes to stand behind the probe:

* in-process (the pyocd world, ``--probe qemu:auto``): :mod:`harness.emu.process`
  starts QEMU connected to sockets we listen on; its gdbstub connection is *registered* here
  under the socket's path, and ``qemu:<that path>`` finds it.
* for pyOCD's own command line: :func:`serve` starts QEMU with its gdbstub and console as unix
  socket *servers* in a run dir; ``qemu:<rundir>/gdb.sock`` connects to it, from any process
  (``python -m harness.probes.launch`` does that and prints the probe id).

Nothing here listens on TCP; ``qemu:<host>:<port>`` is for a QEMU started by hand with
``-gdb tcp:127.0.0.1:<port>``.

**One debugger at a time.** QEMU's gdbstub serves a single client: a second one connects to
the socket but is never answered. So every chip in a run dir of ours has a lock file beside its
gdbstub socket (``gdb.sock.lock``): a probe holds an exclusive ``flock`` on it while open, with
its pid written inside, and a second probe — in this process or another — learns at once who
holds the chip (:class:`ChipLock`). The kernel drops the lock when the holder dies, so a killed
pyOCD never leaves a chip "busy".

**A chip that dies is reported and kept.** :meth:`Served.close` keeps QEMU's log when QEMU
ended on its own (see :func:`harness.emu.process.keep_log`); :meth:`Served.restart` starts a new
QEMU behind the same socket paths, so the probe id stays valid.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import patience, reaper
from ..emu.process import (
    died_on_its_own,
    keep_log,
    make_rundir,
    note_qemu,
    process_state,
    qemu_binary,
    rundir_base,
)
from ..errors import DutLost

SERVED_PREFIX = "qsm-probe-"
_REASON_RE = re.compile(r"fatal|error|assert|abort", re.I)
LOCK_SUFFIX = ".lock"


@dataclass
class LocalQemu:
    """A gdbstub connection already open in this process, waiting for a probe to use it."""

    sock: socket.socket
    machine: str
    description: str
    diagnosis: Callable[[], str] | None = None  # what became of the QEMU (its owner knows)


_LOCAL: dict[str, LocalQemu] = {}
_LOCAL_LOCK = threading.Lock()


def register(path: str, sock: socket.socket, machine: str, description: str,
             diagnosis: Callable[[], str] | None = None) -> str:
    """Make ``qemu:<path>`` resolve to this connected gdbstub; returns the unique id.
    ``diagnosis``: says what became of the QEMU, for a probe that lost it."""
    with _LOCAL_LOCK:
        _LOCAL[path] = LocalQemu(sock, machine, description, diagnosis)
    return f"qemu:{path}"


def unregister(path: str) -> None:
    with _LOCAL_LOCK:
        _LOCAL.pop(path, None)


def local(path: str) -> LocalQemu | None:
    with _LOCAL_LOCK:
        return _LOCAL.get(path)


def local_ids() -> list[str]:
    with _LOCAL_LOCK:
        return sorted(_LOCAL)


# -- who holds a chip --------------------------------------------------------------------------
def lock_path(gdb_socket: str) -> Path | None:
    """The lock file of the chip whose gdbstub is the unix socket ``gdb_socket``: beside it when
    it lives in a run dir of ours, else None (a socket of someone else's: no file is made)."""
    path = Path(gdb_socket)
    if not path.parent.name.startswith("qsm-"):
        return None
    return path.with_name(path.name + LOCK_SUFFIX)


def _describe_pid(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return f"pid {pid}"
    words = [os.path.basename(a.decode(errors="replace")) if i == 0 else
             a.decode(errors="replace") for i, a in enumerate(argv[:4]) if a]
    return f"pid {pid}" + (f": {' '.join(words)}" if words else "")


class ChipLock:
    """An exclusive, non-blocking ``flock`` on a chip's lock file, holding this pid."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> str | None:
        """Take the lock; None when taken, else who holds it (``"pid N: program args"``)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                text = os.pread(fd, 64, 0).decode(errors="replace").strip()
            finally:
                os.close(fd)
            return _describe_pid(int(text)) if text.isdigit() else "another debugger"
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing drops the flock


def holder(gdb_socket: str) -> str | None:
    """Who holds the chip behind ``gdb_socket`` right now (None: free, or not ours to tell)."""
    path = lock_path(gdb_socket)
    if path is None or not Path(gdb_socket).exists():
        return None
    lock = ChipLock(path)
    try:
        who = lock.acquire()
    except OSError:
        return None
    lock.release()
    return who


# -- QEMU as a server, for pyOCD's command line ------------------------------------------------
@dataclass
class Served:
    """A QEMU serving its gdbstub and UART0 on unix sockets in ``rundir``; this object owns it."""

    proc: subprocess.Popen
    rundir: Path
    machine: str
    kernel: Path | None = None
    log_dir: Path | None = None  # where QEMU's log is kept if QEMU dies on its own
    shift: int | None = None  # on chip time: QEMU's -icount shift (2^shift ns an instruction)
    kept_logs: list[Path] = field(default_factory=list)
    restarts: int = 0
    _logged: dict[int, Path | None] = field(default_factory=dict)  # QEMU pid → its kept log

    @property
    def gdb(self) -> Path:
        return self.rundir / "gdb.sock"

    @property
    def console(self) -> Path:
        return self.rundir / "con0.sock"

    @property
    def monitor(self) -> Path:
        """QEMU's QMP monitor (a unix socket server, one client at a time): what the bench's
        own tools use beside the probe, e.g. virtual instruments wired to the chip."""
        return self.rundir / "qmp.sock"

    @property
    def uid(self) -> str:
        return f"qemu:{self.gdb}"

    def log_text(self) -> str:
        try:
            return (self.rundir / "qemu.log").read_text(errors="replace").strip()
        except OSError:
            return ""

    def exit_report(self) -> str | None:
        """Why QEMU ended (its exit status and its own last words, where they were kept), or
        None while it runs. Keeps the log as a side effect (once per QEMU)."""
        code = self.proc.poll()
        if code is None:
            return None
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        text = f"QEMU ({self.machine}, pid {self.proc.pid}) exited with {how}"
        lines = self.log_text().splitlines()
        # QEMU's reason (``qemu: fatal: ...``) comes before a register dump of any length
        key = [line for line in lines if _REASON_RE.search(line)]
        if lines:
            text += ":\n" + "\n".join("  " + line for line in (key or lines[-10:]))
        kept = self._keep_log()
        if kept is not None:
            text += f"\nQEMU's log kept at {kept}"
        return text

    def _keep_log(self) -> Path | None:
        """Keep the log of a QEMU that crashed (not of one stopped on purpose), once."""
        pid = self.proc.pid
        if pid not in self._logged and not died_on_its_own(self.proc.poll()):
            return None
        if pid not in self._logged:
            kept = keep_log(self.rundir, self.log_dir,
                            f"{self.machine}-{self.rundir.name}-{self.restarts}")
            self._logged[pid] = kept
            if kept is not None:
                self.kept_logs.append(kept)
        return self._logged[pid]

    def restart(self, timeout: float | None = None) -> None:
        """A new QEMU behind the same socket paths (the probe id stays valid), after the old
        one ended; its log is kept first. Flash comes back blank (or as ``kernel``)."""
        self.exit_report()
        reaper.stop(self.proc, grace=0.2)
        for name in ("gdb.sock", "con0.sock", "qmp.sock", "qemu.log"):
            with contextlib.suppress(OSError):
                (self.rundir / name).unlink()
        self.restarts += 1
        self.proc = _spawn(self.rundir, self.machine, self.kernel, self.shift)
        _wait_for_socket(self, timeout)

    def close(self) -> int | None:
        if self.proc.poll() is not None:
            self._keep_log()
        code = reaper.stop(self.proc)
        shutil.rmtree(self.rundir, ignore_errors=True)
        return code


def _spawn(rundir: Path, machine: str, kernel: Path | None,
           shift: int | None = None) -> subprocess.Popen:
    argv = [qemu_binary(), "-M", machine, "-nodefaults", "-nic", "none", "-display", "none",
            "-S", "-chardev", f"socket,id=gdb,path={rundir}/gdb.sock,server=on,wait=off",
            "-gdb", "chardev:gdb",
            "-chardev", f"socket,id=con0,path={rundir}/con0.sock,server=on,wait=off",
            "-serial", "chardev:con0",
            "-chardev", f"socket,id=qmp,path={rundir}/qmp.sock,server=on,wait=off",
            "-mon", "chardev=qmp,mode=control"]
    if kernel is not None:
        argv += ["-kernel", str(kernel)]
    if shift is not None:  # chip time: the probe's DWT counts QEMU's instructions
        argv += ["-icount", f"shift={shift},sleep=off"]
    with open(rundir / "qemu.log", "wb") as log:
        # its own session (a Ctrl-C at the launcher's terminal is the launcher's to handle),
        # and it dies with its owner
        proc = subprocess.Popen(reaper.dying_with_parent(argv), stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, close_fds=True,
                                start_new_session=True)
    reaper.register(proc)
    note_qemu(rundir, proc.pid)
    return proc


_SO_ACCEPTCON = 0x10000  # /proc/net/unix "Flags" of a listening socket


def listening(paths: set[str]) -> bool:
    """Whether every unix socket in ``paths`` listens. The file appears at bind(), before
    listen(): a client connecting in between is refused, so the file alone is not enough."""
    found = set()
    try:
        with open("/proc/net/unix") as table:
            next(table, None)
            for line in table:
                parts = line.split()
                if len(parts) >= 8 and parts[-1] in paths and int(parts[3], 16) & _SO_ACCEPTCON:
                    found.add(parts[-1])
    except OSError:  # no /proc: the files must do
        return all(Path(p).exists() for p in paths)
    return found == paths


def _wait_for_socket(served: Served, timeout: float | None) -> None:
    """Until QEMU listens; ``timeout`` None: the base ``probe_serve`` wait, scaled now."""
    timeout = patience.limit("probe_serve") if timeout is None else patience.scaled(timeout)
    deadline = time.monotonic() + timeout
    while not listening({str(served.gdb), str(served.console), str(served.monitor)}):
        if served.proc.poll() is not None or time.monotonic() > deadline:
            why = served.exit_report() or (f"no socket {served.gdb} within {timeout:.1f} s; "
                                           f"{process_state(served.proc.pid)}; its log: "
                                           f"{served.log_text()[-400:] or '(empty)'}")
            served.close()
            raise DutLost(f"QEMU ({served.machine}) did not open its gdbstub socket: {why}")
        time.sleep(0.002)


def serve(machine: str, kernel: Path | None = None, timeout: float | None = None,
          log_dir: Path | None = None, shift: int | None = None) -> Served:
    """Start QEMU halted with gdbstub and UART0 as unix socket servers in a fresh run dir;
    with ``shift``, on chip time (``-icount shift=N,sleep=off``)."""
    rundir = make_rundir(SERVED_PREFIX)
    try:
        proc = _spawn(rundir, machine, kernel, shift)
    except BaseException:
        shutil.rmtree(rundir, ignore_errors=True)
        raise
    served = Served(proc, rundir, machine, kernel, log_dir, shift)
    _wait_for_socket(served, timeout)
    return served


def served_sockets() -> list[Path]:
    """gdbstub sockets of QEMUs started by :func:`serve` that still run (for listings)."""
    out = []
    for d in sorted(Path(rundir_base()).glob(SERVED_PREFIX + "*")):
        sock = d / "gdb.sock"
        with contextlib.suppress(OSError):
            if sock.exists() and d.stat().st_uid == os.getuid():
                out.append(sock)
    return out
