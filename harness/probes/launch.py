"""Emulated chips for the ``qemu:`` probe.

Two ways a QEMU comes to stand behind the probe:

* in-process (the pyocd world, ``--probe qemu:auto``): :mod:`harness.backends.qemu_process`
  starts QEMU connected to sockets we listen on; its gdbstub connection is *registered* here
  under the socket's path, and ``qemu:<that path>`` finds it.
* for pyOCD's own command line: :func:`serve` starts QEMU with its gdbstub and console as unix
  socket *servers* in a run dir; ``qemu:<rundir>/gdb.sock`` connects to it, from any process.
  ``python -m harness.probes.launch`` does that and prints the probe id.

Nothing here listens on TCP; ``qemu:<host>:<port>`` is for a QEMU started by hand with
``-gdb tcp:127.0.0.1:<port>``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .. import reaper
from ..backends.qemu_process import qemu_binary, rundir_base
from ..errors import DutLost

SERVED_PREFIX = "qsm-probe-"


@dataclass
class LocalQemu:
    """A gdbstub connection already open in this process, waiting for a probe to use it."""

    sock: socket.socket
    machine: str
    description: str


_LOCAL: dict[str, LocalQemu] = {}
_LOCAL_LOCK = threading.Lock()


def register(path: str, sock: socket.socket, machine: str, description: str) -> str:
    """Make ``qemu:<path>`` resolve to this connected gdbstub; returns the unique id."""
    with _LOCAL_LOCK:
        _LOCAL[path] = LocalQemu(sock, machine, description)
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


# -- QEMU as a server, for pyOCD's command line ------------------------------------------------
@dataclass
class Served:
    proc: subprocess.Popen
    rundir: Path
    machine: str

    @property
    def gdb(self) -> Path:
        return self.rundir / "gdb.sock"

    @property
    def console(self) -> Path:
        return self.rundir / "con0.sock"

    @property
    def uid(self) -> str:
        return f"qemu:{self.gdb}"

    def close(self) -> int | None:
        code = reaper.stop(self.proc)
        shutil.rmtree(self.rundir, ignore_errors=True)
        return code


def serve(machine: str, kernel: Path | None = None, timeout: float = 10.0) -> Served:
    """Start QEMU halted with gdbstub and UART0 as unix socket servers in a fresh run dir."""
    rundir = Path(tempfile.mkdtemp(prefix=SERVED_PREFIX, dir=rundir_base()))
    argv = [qemu_binary(), "-M", machine, "-nodefaults", "-nic", "none", "-display", "none",
            "-S", "-chardev", f"socket,id=gdb,path={rundir}/gdb.sock,server=on,wait=off",
            "-gdb", "chardev:gdb",
            "-chardev", f"socket,id=con0,path={rundir}/con0.sock,server=on,wait=off",
            "-serial", "chardev:con0"]
    if kernel is not None:
        argv += ["-kernel", str(kernel)]
    log = open(rundir / "qemu.log", "wb")  # noqa: SIM115 (QEMU's stderr for its lifetime)
    with log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, close_fds=True,
                                start_new_session=True)
    served = Served(proc, rundir, machine)
    deadline = time.monotonic() + timeout
    while not served.gdb.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            text = (rundir / "qemu.log").read_text(errors="replace").strip()
            served.close()
            raise DutLost(f"QEMU ({machine}) did not open its gdbstub socket: {text}")
        time.sleep(0.002)
    return served


def served_sockets() -> list[Path]:
    """gdbstub sockets of QEMUs started by :func:`serve` that still run (for listings)."""
    out = []
    for d in sorted(Path(rundir_base()).glob(SERVED_PREFIX + "*")):
        sock = d / "gdb.sock"
        if sock.exists() and d.stat().st_uid == os.getuid():
            out.append(sock)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m harness.probes.launch",
        description="Start an emulated chip for pyOCD's command line; prints its probe id "
                    "and console socket, runs until interrupted.")
    p.add_argument("--machine", default="lm3s6965evb", help="QEMU board (default lm3s6965evb)")
    p.add_argument("--kernel", type=Path, default=None,
                   help="ELF to preload (default: none, flash it with pyocd flash)")
    args = p.parse_args(argv)
    served = serve(args.machine, args.kernel)
    print(f"probe   {served.uid}", flush=True)
    print(f"console {served.console}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.is_set() and served.proc.poll() is None:
            stop.wait(0.2)
    finally:
        code = served.proc.poll()
        served.close()
    if code is not None:
        print(f"QEMU exited with code {code}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
