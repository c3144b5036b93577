"""Processes that outlive the command that started them, and how they end.

A lab process runs in its own session (a terminal closing or a Ctrl-C at ``harness lab up``
does not reach it), stdin from /dev/null, stdout and stderr to a log file. Stopping one stops
its whole tree: the process, every descendant (QEMU under the probe launcher, ser2net under an
exporter) — SIGTERM, then SIGKILL after a grace — and waits until they are gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from .. import patience
from ..errors import HarnessError


def spawn(argv: list[str], log: Path, cwd: Path | None = None,
          env: dict[str, str] | None = None) -> int:
    """Start ``argv`` detached; returns its pid. The Popen object is dropped on purpose: the
    process is the lab's, reaped by init once this command exits, stopped by ``lab down``."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, cwd=cwd, close_fds=True,
                                start_new_session=True, env={**os.environ, **(env or {})})
    _spawned.append(proc)  # reaped here while this command runs (see reap)
    return proc.pid


_spawned: list[subprocess.Popen] = []


def reap() -> None:
    """Collect the exit status of lab processes of this command that ended (no zombies)."""
    for proc in list(_spawned):
        if proc.poll() is not None:
            _spawned.remove(proc)


def free_port() -> int:
    """A TCP port free on loopback now. Free only now: a process told to bind it later can
    lose it to anyone else's, so the lab's own servers bind port 0 and say which port they
    got (:func:`printed_port`)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def printed_port(log: Path, pattern: re.Pattern[str]) -> int | None:
    """The port a server printed to its log once it was listening (``pattern``'s group 1),
    None until then: a server asked for port 0 gets a free one from the kernel as it binds,
    so two labs started at the same instant never reach for the same port."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return None
    found = pattern.search(text)
    return int(found.group(1)) if found else None


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def wait_for(check: Callable[[], object], seconds: float, what: str,
             alive: Callable[[], bool] = lambda: True, log: Path | None = None) -> object:
    """Poll ``check`` until it returns something true, at most ``seconds``; ``alive`` false
    or the time up raises, naming ``what`` and the end of ``log``."""
    deadline = time.monotonic() + seconds
    while True:
        reap()
        found = check()
        if found:
            return found
        dead = not alive()
        if dead or time.monotonic() > deadline:
            why = "its process ended" if dead else f"not within {seconds:.1f} s"
            raise HarnessError(f"{what}: {why}" + (last_lines(log) if log else ""))
        time.sleep(0.05)


def last_lines(log: Path, count: int = 8) -> str:
    """``; last lines of LOG:`` and them, indented; empty when the log is empty or gone."""
    try:
        lines = log.read_text(errors="replace").strip().splitlines()[-count:]
    except OSError:
        return ""
    return f"; last lines of {log}:\n  " + "\n  ".join(lines) if lines else ""


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants now, parents first."""
    kids, out, todo = _children(), [], [pid]
    while todo:
        p = todo.pop(0)
        out.append(p)
        todo += kids.get(p, [])
    return out


def gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


def stop(pids: list[int], grace: float | None = None) -> list[int]:
    """SIGTERM every process in ``pids`` and its descendants, SIGKILL what is left after
    ``grace`` (default: the base process_exit wait), then wait until all are gone. Returns
    the pids that had to be killed."""
    grace = patience.limit("process_exit") if grace is None else grace
    every: list[int] = []
    for pid in pids:
        every += [p for p in tree(pid) if p not in every]
    for pid in every:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and not all(gone(p) for p in every):
        reap()
        time.sleep(0.05)
    killed = [p for p in every if not gone(p)]
    for pid in killed:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + patience.limit("process_exit")
    while time.monotonic() < deadline and not all(gone(p) for p in every):
        reap()
        time.sleep(0.05)
    left = [p for p in every if not gone(p)]
    if left:
        raise HarnessError(f"processes still running after SIGKILL: {left}")
    return killed
