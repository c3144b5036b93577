"""One emulated bench: a chip behind the ``qemu:`` probe, its console on a pseudo-terminal,
``pyocd server`` serving its probe on a loopback port, and the bench's instruments — virtual LXI
instruments on loopback TCP, wired to the chip through QEMU's monitor (a supply feeding the
board on channel 1, a meter, a counter on the frequency output).

Every server here binds port 0 and says which port it got (``pyocd server -p 0`` logs
``Serving debug probe ... on port N``; the instruments print their VISA resources): no port
is chosen before its server binds it, where another lab starting at once could take it."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .. import patience
from .procs import printed_port, spawn, wait_for
from .state import Bench, LabState, Proc

# kind → virtual model; the supply's channel 1 feeds the board (12 V, the washer's limits)
INSTRUMENTS = {"psu": "rigol-dp832", "dmm": "keysight-34461a", "counter": "keysight-53220a"}
PSU_CHANNEL = {"channel": 1, "voltage": 12.0, "current_limit": 1.0, "max_voltage": 13.2,
               "max_current": 1.2}
# what pyocd server logs once it listens (asked for port 0: the port the kernel gave it)
SERVING = re.compile(r"Serving debug probe .* on port (\d+)")


def _printed(log: Path, keys: tuple[str, ...]) -> dict[str, str] | None:
    """``key value`` lines a process printed, once every one of ``keys`` is there."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return None
    found = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key in keys and value.strip():
            found[key] = value.strip()
    return found if len(found) == len(keys) else None


def start_bench(state: LabState, host: int, index: int, machine: str, image: Path) -> Bench:
    """Start bench ``index`` of host ``host`` (recorded in ``state`` as it goes); ``image``:
    the firmware the bench's wiring is made for (where the board's outputs are)."""
    place = f"bench-{host}-{index}"
    base = Path(state.dir)
    log = base / f"{place}.launch.log"
    pid = spawn([sys.executable, "-m", "harness.probes.launch", "--machine", machine,
                 "--console-pty", "--log-dir", str(base)], log)
    launcher = Proc.of(f"{place} chip", pid, log)
    state.add(launcher)
    lines = wait_for(lambda: _printed(log, ("probe", "console", "monitor")),
                     patience.limit("probe_serve"),
                     f"{place}: the probe launcher printing its probe, console and monitor",
                     launcher.alive, log)
    assert isinstance(lines, dict)
    instruments = _start_instruments(state, place, lines["monitor"], image)
    log = base / f"{place}.pyocd.log"
    pid = spawn([sys.executable, "-m", "pyocd", "server", "-u", lines["probe"], "-p", "0"],
                log)
    server = Proc.of(f"{place} pyocd server", pid, log)
    state.add(server)
    # pyOCD imports slowly on a busy machine: the process_start wait, not a socket's
    port = wait_for(lambda: printed_port(log, SERVING), patience.limit("process_start"),
                    f"{place}: pyocd server listening", server.alive, log)
    assert isinstance(port, int)
    bench = Bench(place, f"host-{host}", index, lines["probe"], lines["console"], port,
                  instruments)
    state.benches.append(bench)
    state.save()
    return bench


def _start_instruments(state: LabState, place: str, monitor: str, image: Path) -> dict[str, str]:
    """The bench's virtual instruments, wired to its chip; kind → VISA resource."""
    log = Path(state.dir) / f"{place}.instruments.log"
    models = list(INSTRUMENTS.values())
    pid = spawn([sys.executable, "-m", "harness.instruments.virtual", *models,
                 "--wired-to", monitor, "--image", str(image), "--name", place], log)
    proc = Proc.of(f"{place} instruments", pid, log)
    state.add(proc)
    printed = wait_for(lambda: _printed(log, tuple(models)), patience.limit("process_start"),
                       f"{place}: its instruments listening", proc.alive, log)
    assert isinstance(printed, dict)
    return {kind: printed[model] for kind, model in INSTRUMENTS.items()}
