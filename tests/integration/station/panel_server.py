"""``harness station serve`` started as an operator starts it: a real process, its URL read
from what it prints, stopped with SIGTERM (and waited for) at the end."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness import patience

ROOT = Path(__file__).resolve().parents[3]
# a short suite per unit: the shell, the boot time measurement and the operator's steps
QUICK = ["--pytest-arg=-k", "--pytest-arg=test_shell or test_boot_to_ready or operator_steps"]


class PanelServer:
    def __init__(self, tmp: Path, *args: str, product: str = "qsm-washer-line",
                 slots: int = 4, env: dict | None = None) -> None:
        self.db = f"sqlite:///{tmp / 'records.db'}"
        self.results = tmp / "results"
        self.argv = [sys.executable, "-m", "harness", "station", "serve",
                     f"--product={product}", f"--slots={slots}", f"--db={self.db}", "--create",
                     f"--results={self.results}", "--station=line-7", *args]
        # bench slots of its own: other station tests may run beside it
        self.env = dict(os.environ, HARNESS_LEASE_DIR=str(tmp / "leases"), **(env or {}))
        self.proc: subprocess.Popen | None = None
        self.out = b""
        self.url = ""

    def start(self) -> PanelServer:
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + patience.limit(60)
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                self.out += chunk
                found = re.search(rb"panel: (http://\S+)", self.out)
                if found:
                    self.url = found.group(1).decode()
                    return self
        self.stop()
        raise AssertionError(f"station serve printed no URL: {self.out.decode(errors='replace')}")

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(patience.limit(60))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        assert self.proc.stdout is not None
        if not self.proc.stdout.closed:
            self.out += self.proc.stdout.read()
            self.proc.stdout.close()
        return self.proc.returncode

    def __enter__(self) -> PanelServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
