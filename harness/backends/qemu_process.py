"""One QEMU process: command line, unix sockets it connects to, and an owner that stops it.

The harness listens on a unix socket for every channel (each console, the gdbstub, QMP) and
QEMU connects to them as a client at start-up. So the first console byte cannot be missed, no
TCP port is ever taken (pytest-xdist workers cannot collide), and nothing is polled for.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import reaper
from ..config import Target
from ..errors import DutLost, HarnessError, ToolMissing

QEMU = "qemu-system-arm"
QEMU_PACKAGE = "qemu-system-arm"


def rundir_base() -> str:
    """Where per-QEMU socket dirs go: ``$HARNESS_RUNDIR`` or /tmp (unix socket paths must stay
    under 108 bytes, so not pytest's deep tmp dirs)."""
    return os.environ.get("HARNESS_RUNDIR", "/tmp")


def qemu_binary() -> str:
    path = shutil.which(QEMU)
    if path is None:
        raise ToolMissing(QEMU, QEMU_PACKAGE, "the qemu world")
    return path


@dataclass
class QemuProcess:
    """A started QEMU and its connected channels. Close it exactly once (idempotent)."""

    name: str
    proc: subprocess.Popen
    rundir: Path
    consoles: dict[str, socket.socket]
    gdb: socket.socket
    qmp: socket.socket
    argv: list[str] = field(default_factory=list)
    channels: dict[str, str] = field(default_factory=dict)  # raw UARTs: name → socket:// URL

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def stderr_tail(self, n: int = 10) -> str:
        try:
            lines = (self.rundir / "qemu.log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def diagnosis(self) -> str:
        code = self.proc.poll()
        if code is None:
            return f"{QEMU} pid {self.pid} is running"
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        tail = self.stderr_tail()
        return f"{QEMU} pid {self.pid} died ({how})" + (f"; its stderr:\n{tail}" if tail else "")

    def close(self, qmp_quit=None) -> int | None:
        """Stop QEMU (QMP quit → SIGTERM → SIGKILL), close sockets, remove the run dir."""
        if qmp_quit is not None and self.alive:
            with contextlib.suppress(Exception):
                qmp_quit()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(1.0)
        code = reaper.stop(self.proc)
        for s in (*self.consoles.values(), self.gdb, self.qmp):
            with contextlib.suppress(OSError):
                s.close()
        shutil.rmtree(self.rundir, ignore_errors=True)
        return code


def command_line(target: Target, rundir: Path, kernel: Path | None) -> list[str]:
    q = target.qemu
    assert q is not None
    argv = [qemu_binary(), "-M", q.machine, "-nodefaults", "-nic", "none", "-display", "none",
            "-S"]
    if q.cpu:
        argv += ["-cpu", q.cpu]
    uarts = {spec.uart: spec for spec in target.consoles.values()}
    for index in range(max(uarts) + 1):
        spec = uarts.get(index)
        if spec is None:
            argv += ["-serial", "null"]
        elif spec.kind == "raw":
            # QEMU listens (ephemeral port, Nagle off) for a client such as python-can's slcan
            argv += ["-chardev", f"socket,id=con{index},host=127.0.0.1,port=0,server=on,"
                     "wait=off,nodelay=on", "-serial", f"chardev:con{index}"]
        else:
            argv += ["-chardev", f"socket,id=con{index},path={rundir}/con{index}.sock",
                     "-serial", f"chardev:con{index}"]
    argv += ["-chardev", f"socket,id=gdb,path={rundir}/gdb.sock", "-gdb", "chardev:gdb",
             "-chardev", f"socket,id=qmp,path={rundir}/qmp.sock",
             "-mon", "chardev=qmp,mode=control"]
    if kernel is not None:
        argv += ["-kernel", str(kernel)]
    return argv + list(q.extra_args)


def start(target: Target, kernel: Path | None, name: str, timeout: float = 10.0) -> QemuProcess:
    """Launch QEMU halted (``-S``) with every channel connected to us."""
    if target.qemu is None:
        raise HarnessError(f"target {target.name!r} has no 'qemu' section: it cannot run in the "
                           f"qemu world")
    rundir = Path(tempfile.mkdtemp(prefix="qsm-", dir=rundir_base()))
    listeners: dict[str, socket.socket] = {}
    proc = None
    try:
        uarts = {spec.uart: cname for cname, spec in target.consoles.items()
                 if spec.kind == "shell"}
        channels = [f"con{i}" for i in uarts] + ["gdb", "qmp"]
        for ch in channels:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(str(rundir / f"{ch}.sock"))
            s.listen(1)
            listeners[ch] = s
        argv = command_line(target, rundir, kernel)
        with open(rundir / "qemu.log", "wb") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, close_fds=True,
                                    preexec_fn=reaper.die_with_parent)
        reaper.register(proc)
        conns = _accept_all(listeners, proc, rundir, timeout)
        consoles = {uarts[int(ch[3:])]: conns[ch] for ch in channels if ch.startswith("con")}
        return QemuProcess(name, proc, rundir, consoles, conns["gdb"], conns["qmp"], argv)
    except BaseException:
        if proc is not None:
            reaper.stop(proc, grace=0.2)
        shutil.rmtree(rundir, ignore_errors=True)
        raise
    finally:
        for s in listeners.values():
            s.close()


def _accept_all(listeners: dict[str, socket.socket], proc: subprocess.Popen, rundir: Path,
                timeout: float) -> dict[str, socket.socket]:
    conns: dict[str, socket.socket] = {}
    deadline = time.monotonic() + timeout
    pending = dict(listeners)
    try:
        while pending:
            by_fd = {lst.fileno(): ch for ch, lst in pending.items()}
            ready, _, _ = select.select(list(by_fd), [], [], 0.05)
            for fd in ready:
                ch = by_fd[fd]
                conn, _ = pending.pop(ch).accept()
                conn.settimeout(None)
                conns[ch] = conn
            if pending and proc.poll() is not None:
                log = (rundir / "qemu.log").read_text(errors="replace").strip()
                raise DutLost(f"{QEMU} exited with code {proc.returncode} at start-up:\n{log}")
            if pending and time.monotonic() > deadline:
                raise DutLost(f"{QEMU} pid {proc.pid} did not connect {sorted(pending)} "
                              f"within {timeout:.1f} s")
    except BaseException:
        for c in conns.values():
            c.close()
        raise
    return conns


def raw_channels(target: Target, qmp, name: str) -> dict[str, str]:
    """``raw`` UARTs: QEMU listens on an ephemeral loopback port each; ask QMP which.

    Returns console name → pyserial URL (``socket://127.0.0.1:PORT``).
    """
    raw = {f"con{spec.uart}": cname for cname, spec in target.consoles.items()
           if spec.kind == "raw"}
    if not raw:
        return {}
    out = {}
    for dev in qmp.execute("query-chardev"):
        cname = raw.get(dev["label"])
        if cname is not None:
            # "disconnected:tcp:127.0.0.1:PORT,server=on"
            port = dev["filename"].split("tcp:", 1)[1].split(",")[0].rsplit(":", 1)[1]
            out[cname] = f"socket://127.0.0.1:{int(port)}"
    missing = set(raw.values()) - set(out)
    if missing:
        raise DutLost(f"{name}: QEMU did not report the port of {sorted(missing)}")
    return out


def socket_files_left() -> list[str]:
    """Run dirs of ours still on disk (for leak checks)."""
    return sorted(str(p) for p in Path(rundir_base()).glob("qsm-*") if p.is_dir()
                  and p.stat().st_uid == os.getuid())
