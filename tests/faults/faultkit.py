"""Helpers of the fault tests (see conftest.py): leak checks, bounded waits, pyOCD's CLI.

Fault injection against the bench path: real QEMU behind the ``qemu:`` probe, real pyOCD (its
Python API and its command line), real gdb-multiarch.

Every test runs with its own ``HARNESS_RUNDIR`` (a short dir under /tmp: unix socket paths
must stay under 108 bytes), so what it leaves behind is its own: :func:`leaks` lists the QEMU
processes, run dirs and open fds that outlived what the test closed, and each test asserts
that list is empty. Waits are bounded (subprocess timeouts, deadlines), never asserted as
durations.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from harness import patience
from harness.probes import chips

PYOCD = str(Path(sys.executable).with_name("pyocd"))
ROOT = Path(__file__).resolve().parents[2]
# s, the bound on any one step of a fault test: the harness's own longest wait on a machine as
# loaded as it scales for (a step that works takes a fraction of it; only a hang reaches it)
WAIT = patience.factored(60.0) * patience.MAX_LOAD


def qemu_pids(base: Path) -> list[int]:
    """QEMU processes whose command line names a path under ``base``."""
    out = []
    needle = str(base).encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = (proc / "cmdline").read_bytes()
            if b"qemu-system" in argv.split(b"\0")[0] and needle in argv:
                out.append(int(proc.name))
    return out


def run_dirs(base: Path) -> list[Path]:
    return sorted(p for p in base.glob("qsm-*") if p.is_dir())


def open_fds() -> set[str]:
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            out.add(os.readlink(f"/proc/self/fd/{fd}"))
    return out


def wait_for(pred, what: str, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.02)


@dataclass
class Env:
    base: Path  # this test's HARNESS_RUNDIR
    fds_before: set[str]

    @property
    def environ(self) -> dict[str, str]:
        return {**os.environ, "HARNESS_RUNDIR": str(self.base)}

    def pyocd(self, *args: str, timeout: float = WAIT) -> subprocess.CompletedProcess:
        return subprocess.run([PYOCD, *args], capture_output=True, text=True, timeout=timeout,
                              env=self.environ, stdin=subprocess.DEVNULL)

    def leaks(self) -> list[str]:
        """What this test left behind: QEMUs, run dirs, fds (sockets/files) of this process."""
        found = [f"QEMU pid {p} still running" for p in qemu_pids(self.base)]
        found += [f"run dir {d} left behind" for d in run_dirs(self.base)]
        new_fds = {f for f in open_fds() - self.fds_before
                   if f.startswith(("socket:", str(self.base)))}
        found += [f"fd {f} still open" for f in sorted(new_fds)]
        return found


def console(served: chips.Served) -> socket.socket:
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(served.console))
    s.settimeout(WAIT)
    return s


def read_until(sock: socket.socket, text: bytes) -> bytes:
    buf = b""
    while text not in buf:
        chunk = sock.recv(4096)
        assert chunk, f"console closed before {text!r}; got {buf!r}"
        buf += chunk
    return buf


# pyOCD's command line with Ctrl-C as at a terminal: a run started in the background of a shell
# without job control (CI scripts, nohup) ignores SIGINT, and so would every process it starts.
# (Set in the child itself: a preexec_fn can deadlock a threaded parent's fork.)
PYOCD_WITH_SIGINT = [sys.executable, "-c", "import signal, sys; "
                     "signal.signal(signal.SIGINT, signal.default_int_handler); "
                     "sys.argv[0] = 'pyocd'; from pyocd.__main__ import main; main()"]


class GdbServer:
    """``pyocd gdbserver`` on ephemeral ports; stopped (and reaped) by :meth:`stop`."""

    def __init__(self, env: Env, uid: str, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [*PYOCD_WITH_SIGINT, "gdbserver", "-u", uid, "--port", "0", "--telnet-port", "0",
             *extra],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            # a server that hangs is made to say where (faulthandler dumps on SIGABRT)
            text=True, env={**env.environ, "PYTHONFAULTHANDLER": "1"})
        self.log: list[str] = []
        self.port = self._wait_port()
        # keep reading its log, so a full pipe can never stall the server
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)

    def _wait_port(self) -> int:
        assert self.proc.stderr is not None
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                raise AssertionError("pyocd gdbserver exited before listening:\n"
                                     + "".join(self.log))
            self.log.append(line)
            if m := re.search(r"GDB server listening on port (\d+)", line):
                return int(m.group(1))
        raise AssertionError("pyocd gdbserver did not listen:\n" + "".join(self.log))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:  # hung: its threads' stacks go to the log
                self.proc.send_signal(signal.SIGABRT)
                try:
                    self.proc.wait(WAIT)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(WAIT)
        self._reader.join(WAIT)
        assert self.proc.stderr is not None
        self.proc.stderr.close()
        return self.proc.returncode
