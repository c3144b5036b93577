"""No leaked child processes: every emulator the harness starts is registered here.

Children die with us three ways: when their owner closes them, at interpreter exit (atexit), and
— if the worker is SIGKILLed — through the kernel's parent-death signal (Linux prctl).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading

from . import patience

_LIVE: set[subprocess.Popen] = set()
_LOCK = threading.Lock()
_PR_SET_PDEATHSIG = 1

try:
    _libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
except OSError:  # pragma: no cover
    _libc = None


def die_with_parent() -> None:
    """``preexec_fn``: SIGKILL this child when the spawning thread's process dies."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def register(proc: subprocess.Popen) -> None:
    with _LOCK:
        _LIVE.add(proc)


def forget(proc: subprocess.Popen) -> None:
    with _LOCK:
        _LIVE.discard(proc)


def live() -> list[subprocess.Popen]:
    with _LOCK:
        return [p for p in _LIVE if p.poll() is None]


def stop(proc: subprocess.Popen, grace: float = 1.0) -> int | None:
    """SIGTERM, then SIGKILL after ``grace`` seconds (scaled by the machine's load); returns
    the exit code."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(patience.scaled(grace))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(patience.limit("process_exit"))
    forget(proc)
    return proc.returncode


@atexit.register
def _kill_all() -> None:
    for proc in live():
        with contextlib.suppress(Exception):
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(2)
