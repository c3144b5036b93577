"""The lab's ``labgrid-coordinator``: on loopback, its state files in the lab dir.

It is asked for port 0 and prints the port the kernel gave it (``listening on HOST:PORT``):
a port chosen beforehand could be taken by another lab starting at the same instant.
"""

from __future__ import annotations

import re
from pathlib import Path

from .. import patience
from .exporter import tool
from .procs import printed_port, spawn, wait_for
from .state import LabState, Proc

LISTENING = re.compile(r"^listening on 127\.0\.0\.1:(\d+)$", re.MULTILINE)


def start_coordinator(state: LabState) -> Proc:
    base = Path(state.dir)
    log = base / "coordinator.log"
    pid = spawn([tool("labgrid-coordinator"), "-l", "127.0.0.1:0"], log, cwd=base,
                env={"PYTHONUNBUFFERED": "1"})
    proc = Proc.of("coordinator", pid, log)
    state.add(proc)
    port = wait_for(lambda: printed_port(log, LISTENING), patience.limit("process_start"),
                    "labgrid-coordinator listening on 127.0.0.1", proc.alive, log)
    state.coordinator = f"127.0.0.1:{port}"
    state.save()
    return proc
