"""The lab's ``labgrid-coordinator``: on a free loopback port, its state files in the lab dir."""

from __future__ import annotations

from pathlib import Path

from .. import patience
from .exporter import tool
from .procs import free_port, port_open, spawn, wait_for
from .state import LabState, Proc


def start_coordinator(state: LabState) -> Proc:
    port = free_port()
    base = Path(state.dir)
    log = base / "coordinator.log"
    pid = spawn([tool("labgrid-coordinator"), "-l", f"127.0.0.1:{port}"], log, cwd=base,
                env={"PYTHONUNBUFFERED": "1"})
    proc = Proc.of("coordinator", pid, log)
    state.coordinator = f"127.0.0.1:{port}"
    state.add(proc)
    wait_for(lambda: port_open(port), patience.limit("process_start"),
             f"labgrid-coordinator listening on {state.coordinator}", proc.alive, log)
    return proc
