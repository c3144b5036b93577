"""One emulated bench: a chip behind the ``qemu:`` probe, its console on a pseudo-terminal, and
``pyocd server`` serving its probe on a loopback port."""

from __future__ import annotations

import sys
from pathlib import Path

from .. import patience
from .procs import port_open, spawn, wait_for
from .state import Bench, LabState, Proc


def _launcher_lines(log: Path) -> dict[str, str] | None:
    """``probe`` and ``console`` as the launcher printed them, once both are there."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return None
    found = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key in ("probe", "console") and value.strip():
            found[key] = value.strip()
    return found if len(found) == 2 else None


def start_bench(state: LabState, host: int, index: int, machine: str, port: int) -> Bench:
    """Start bench ``index`` of host ``host`` (recorded in ``state`` as it goes)."""
    place = f"bench-{host}-{index}"
    base = Path(state.dir)
    log = base / f"{place}.launch.log"
    pid = spawn([sys.executable, "-m", "harness.probes.launch", "--machine", machine,
                 "--console-pty", "--log-dir", str(base)], log)
    launcher = Proc.of(f"{place} chip", pid, log)
    state.add(launcher)
    lines = wait_for(lambda: _launcher_lines(log), patience.limit("probe_serve"),
                     f"{place}: the probe launcher printing its probe and console",
                     launcher.alive, log)
    assert isinstance(lines, dict)
    log = base / f"{place}.pyocd.log"
    pid = spawn([sys.executable, "-m", "pyocd", "server", "-u", lines["probe"],
                 "-p", str(port)], log)
    server = Proc.of(f"{place} pyocd server", pid, log)
    state.add(server)
    # pyOCD imports slowly on a busy machine: the process_start wait, not a socket's
    wait_for(lambda: port_open(port), patience.limit("process_start"),
             f"{place}: pyocd server listening on 127.0.0.1:{port}", server.alive, log)
    bench = Bench(place, f"host-{host}", index, lines["probe"], lines["console"], port)
    state.benches.append(bench)
    state.save()
    return bench
