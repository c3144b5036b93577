"""Load on the host, for tests and benchmarks that must hold on a busy machine (a shared CI
runner): ``with cpu_hogs(2): ...`` runs the block with two processes that each keep a CPU busy."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator


@contextlib.contextmanager
def cpu_hogs(n: int, settle: float = 0.2) -> Iterator[None]:
    """``n`` processes spinning in a Python loop for the block (started ``settle`` s before it,
    so the scheduler has them running), killed after."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(n)]
    try:
        if hogs:
            time.sleep(settle)
        yield
    finally:
        for h in hogs:
            h.kill()
            h.wait()
