"""``harness lab up``: a coordinator, N exporter hosts of B emulated benches, a place each."""

from __future__ import annotations

import contextlib
from pathlib import Path

from .. import patience
from ..errors import HarnessError
from .client import LabClient
from .coordinator import start_coordinator
from .down import stop_lab
from .emulated import start_bench
from .exporter import start_exporter
from .procs import last_lines
from .state import STATE_FILE, Bench, LabState

# the coordinator's own state: a new lab starts without the places of an old one
COORDINATOR_FILES = ("places.yaml", "resources.yaml")


def place_tags(state: LabState, bench: Bench) -> dict[str, str]:
    return {"chip": state.chip, "product": state.chip, "host": bench.host,
            "bench": str(bench.index)}


def place_pattern(bench: Bench) -> str:
    """The place's match: every resource of the bench's group on its host."""
    return f"{bench.host}/{bench.place}/*"


def _online(client: LabClient, state: LabState) -> bool:
    for proc in state.procs:
        if not proc.alive():
            raise HarnessError(f"{proc.role} (pid {proc.pid}) ended while the lab came up"
                               + last_lines(Path(proc.log)))
    for bench in state.benches:
        if bench.place not in client.places:
            return False
        found = client.resources(bench.place)
        if {r.name for r in found if r.avail} != {"console", "probe", *bench.instruments}:
            return False
    return True


def refuse_live(base: Path) -> None:
    """Refuse a directory whose lab still runs; clear a dead lab's leftovers."""
    old = LabState.load(base)
    if old is None:
        return
    live = old.live()
    if live:
        raise HarnessError(
            f"a lab is already running in {base} (coordinator {old.coordinator}, "
            f"{len(live)} live processes); stop it first: harness lab down --dir {base}")
    (base / STATE_FILE).unlink()


def lab_up(directory: Path, hosts: int, benches: int, chip: str, machine: str,
           image: Path) -> LabState:
    if hosts < 1 or benches < 1:
        raise HarnessError("a lab needs at least one host and one bench per host")
    base = Path(directory).resolve()
    base.mkdir(parents=True, exist_ok=True)
    refuse_live(base)
    for name in COORDINATOR_FILES:
        with contextlib.suppress(FileNotFoundError):
            (base / name).unlink()
    state = LabState(str(base), chip)
    state.save()
    try:
        start_coordinator(state)
        for host in range(1, hosts + 1):
            mine = [start_bench(state, host, b, machine, image)
                    for b in range(1, benches + 1)]
            start_exporter(state, host, mine)
        with LabClient(state.coordinator) as client:
            for bench in state.benches:
                client.add_place(bench.place, place_pattern(bench), place_tags(state, bench))
            # every exporter connects, publishes and polls its resources: a process start each
            client.wait(lambda: _online(client, state),
                        patience.limit("process_start") * max(1, hosts / 2),
                        "every place's resources online")
    except BaseException:
        stop_lab(state)
        raise
    return state
