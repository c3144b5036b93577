"""The lab's state file (``<dir>/lab.json``): every process ``up`` started and how to reach it.

Written after each process starts, so a lab that failed half-way can still be taken down.
A process is recorded with its start time (``/proc/<pid>/stat``), so a pid the kernel gave to
another program since is never taken for ours.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

STATE_FILE = "lab.json"


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot; None when there is no such pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return int(fields[19]) if len(fields) > 19 and fields[0] != "Z" else None


@dataclass
class Proc:
    """A process of the lab: what it is (``role``), its pid and its start time."""

    role: str
    pid: int
    started: int | None
    log: str

    @classmethod
    def of(cls, role: str, pid: int, log: Path) -> Proc:
        return cls(role, pid, start_time(pid), str(log))

    def alive(self) -> bool:
        return self.started is not None and start_time(self.pid) == self.started


@dataclass
class Bench:
    place: str  # also the exporter group
    host: str
    index: int
    probe: str  # the qemu: probe id
    console: str  # /dev/pts/N
    pyocd_port: int
    # kind → VISA resource of the virtual instrument wired to this bench's chip
    instruments: dict[str, str] = field(default_factory=dict)


@dataclass
class LabState:
    dir: str
    chip: str
    coordinator: str = ""  # HOST:PORT
    procs: list[Proc] = field(default_factory=list)
    benches: list[Bench] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return Path(self.dir) / STATE_FILE

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, self.path)

    def add(self, proc: Proc) -> None:
        self.procs.append(proc)
        self.save()

    def live(self) -> list[Proc]:
        return [p for p in self.procs if p.alive()]

    @classmethod
    def load(cls, directory: Path) -> LabState | None:
        path = Path(directory) / STATE_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        return cls(dir=data["dir"], chip=data["chip"], coordinator=data["coordinator"],
                   procs=[Proc(**p) for p in data["procs"]],
                   benches=[Bench(**b) for b in data["benches"]])
