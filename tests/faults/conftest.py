"""Fixtures of the fault tests; the helpers are in :mod:`faultkit`.

Fault injection against the bench path: real QEMU behind the ``qemu:`` probe, real pyOCD (its
Python API and its command line), real gdb-multiarch. Each test has its own HARNESS_RUNDIR and
asserts that nothing outlived it (``env.leaks() == []``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from pathlib import Path

import pytest
from faultkit import Env, open_fds, qemu_pids

from harness.errors import ToolMissing
from harness.probes import chips


@pytest.fixture
def env(monkeypatch):
    base = Path(tempfile.mkdtemp(prefix="qf-", dir="/tmp"))
    monkeypatch.setenv("HARNESS_RUNDIR", str(base))
    e = Env(base, open_fds())
    yield e
    for pid in qemu_pids(base):  # whatever a failed test left: never let it outlive the test
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def image(target, harness_manager):
    return harness_manager.image(target)


@pytest.fixture
def chip(env, target):
    """A blank emulated chip served for pyOCD's command line (closed at the end)."""
    served = chips.serve(target.qemu.machine)
    yield served
    served.close()


@pytest.fixture
def gdb() -> str:
    path = shutil.which("gdb-multiarch")
    if path is None:
        raise ToolMissing("gdb-multiarch", "gdb-multiarch", "the pyOCD gdbserver fault tests")
    return path


