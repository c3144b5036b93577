"""A bench host: the exporter YAML of its benches, and ``labgrid-exporter`` publishing it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import yaml

from ..errors import HarnessError
from .emulated import PSU_CHANNEL
from .procs import spawn
from .state import Bench, LabState, Proc

CONSOLE_SPEED = 115200


def exporter_config(benches: list[Bench]) -> dict:
    """One group per bench: ``console`` (RawSerialPort), ``probe`` (PyOCDServer) and one
    VISAResource per instrument (the supply with the channel feeding the board)."""
    return {b.place: _group(b) for b in benches}


def _group(b: Bench) -> dict:
    group: dict = {
        "console": {"cls": "RawSerialPort", "port": b.console, "speed": CONSOLE_SPEED},
        "probe": {"cls": "PyOCDServer", "host": "127.0.0.1", "port": b.pyocd_port,
                  "uid": b.probe},
    }
    for kind, resource in sorted(b.instruments.items()):
        group[kind] = {"cls": "VISAResource", "kind": kind, "resource": resource,
                       **(PSU_CHANNEL if kind == "psu" else {})}
    return group


def tool(name: str) -> str:
    """A labgrid program: beside this Python first (a venv), then on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise HarnessError(f"{name} not found: pip install 'qsm-harness[lab]'")
    return found


def start_exporter(state: LabState, host: int, benches: list[Bench]) -> Proc:
    name = f"host-{host}"
    base = Path(state.dir)
    config = base / f"{name}.yaml"
    # labgrid renders the file with jinja2: "#" starts a statement there, "##" a comment
    config.write_text(f"## labgrid exporter of {name}, written by harness lab up\n"
                      + yaml.safe_dump(exporter_config(benches), sort_keys=False))
    log = base / f"{name}.exporter.log"
    pid = spawn([tool("labgrid-exporter"), "-c", state.coordinator, "--name", name,
                 "--hostname", "127.0.0.1", str(config)], log,
                env={"LG_HOSTNAME": name, "PYTHONUNBUFFERED": "1"})
    proc = Proc.of(f"{name} exporter", pid, log)
    state.add(proc)
    return proc
