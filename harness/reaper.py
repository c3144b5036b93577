"""No leaked child processes: every emulator the harness starts is registered here.

Children die with us three ways: when their owner closes them, at interpreter exit (atexit), and
— if the worker is SIGKILLed — through the kernel's parent-death signal (set by setpriv).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading

from . import patience

_LIVE: set[subprocess.Popen] = set()
_LOCK = threading.Lock()


def dying_with_parent(argv: list[str]) -> list[str]:
    """``argv`` started so that the kernel SIGKILLs it when the thread that started it dies:
    through util-linux's ``setpriv --pdeathsig`` (the parent-death signal survives the exec).

    Not a ``preexec_fn``: Python code run between fork and exec can deadlock in a threaded
    process (on a lock another thread held at the fork), leaving a child that never becomes
    the program — a QEMU that never opens its sockets. Without setpriv the atexit handler and
    the owner's close still stop the child."""
    setpriv = shutil.which("setpriv") if sys.platform == "linux" else None
    return [setpriv, "--pdeathsig", "KILL", "--", *argv] if setpriv else list(argv)


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
