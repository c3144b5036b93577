"""What running on the lab costs: the washer's acceptance suite on 4 places of an emulated lab
(``--lab``: reserve, acquire, release through labgrid's coordinator; probe through ``pyocd
server``, console through ser2net's RFC 2217, instruments as LXI resources on the bench hosts)
vs. the same suite on the 4 slots of the local emulated bench (``targets/benches/emulated.yaml``:
the harness's own virtual instruments) in the same pyocd world. Both with ``-n 4``; every test
runs on both (no skip), both on the host's time (``--chip-time=off``). Prints the wall time of
every run, the ratio of the best of each (target <= 1.3), and a place's acquire + release round
trip through the coordinator.

The rounds alternate which side goes first (local-lab, lab-local, ...), so a load that comes
and goes on the machine falls on both. A lab's chips go on running their firmware after a run
releases them (a real bench's do too): before each local run they are halted again through
their pyocd servers, as ``lab up`` left them, so the local run does not share the CPUs with
four idle chips the lab run does not have.

    .venv/bin/python benchmarks/lab.py [--rounds 2] [--trips 10]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.lab.acquire import acquire_place  # noqa: E402

# both on the host's time: a lab bench's chip has no chip clock (its launcher runs QEMU
# without icount), and a local chip on chip time would wait out the firmware's timers faster
# than the wall: not the same work
SUITE = ["tests/acceptance/washer", "-n", "4", "-p", "no:cacheprovider", "-q", "--chip-time=off"]
BENCH = ROOT / "targets/benches/emulated.yaml"


def harness(*args: str) -> str:
    res = subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, text=True,
                         capture_output=True, timeout=900)
    if res.returncode:
        raise SystemExit(f"harness {' '.join(args)}: {res.stdout}{res.stderr}")
    return res.stdout


def suite(*args: str) -> float:
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "pytest", *SUITE, *args], cwd=ROOT, text=True,
                         capture_output=True, timeout=1800)
    took = time.perf_counter() - t0
    if res.returncode or "skipped" in res.stdout.splitlines()[-1]:
        raise SystemExit(f"pytest {' '.join(args)} exited {res.returncode}:\n{res.stdout[-3000:]}")
    return took


def halt_chips(lab_dir: Path) -> None:
    """Halt every bench's chip through its pyocd server (a session that halts on connect and
    leaves the core halted on close)."""
    from pyocd.core.helpers import ConnectHelper

    from harness.backends.pyocd_remote import patch

    patch()
    state = json.loads((lab_dir / "lab.json").read_text())
    for bench in state["benches"]:
        session = ConnectHelper.session_with_chosen_probe(
            unique_id=f"remote:127.0.0.1:{bench['pyocd_port']}", blocking=False,
            options={"connect_mode": "halt", "resume_on_disconnect": False,
                     "target_override": "cortex_m"})
        if session is None:
            raise SystemExit(f"{bench['place']}: no pyocd server at {bench['pyocd_port']}")
        with session:
            session.target.halt()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-lab-") as tmp_:
        lab_dir = Path(tmp_) / "lab"
        out = harness("lab", "up", "2", "--benches", "2", "--dir", str(lab_dir))
        address = re.search(r"coordinator (\S+)", out).group(1)  # type: ignore[union-attr]
        try:
            local: list[float] = []
            lab: list[float] = []

            def run_local() -> None:
                halt_chips(lab_dir)
                local.append(suite("--world", "pyocd", f"--bench={BENCH}"))
                print(f"  local {local[-1]:.1f} s", flush=True)

            def run_lab() -> None:
                lab.append(suite(f"--lab={address}", "--lab-tags=chip=qsm-washer"))
                print(f"  lab   {lab[-1]:.1f} s", flush=True)

            for n in range(ARGS.rounds):
                for side in ((run_local, run_lab) if n % 2 == 0 else (run_lab, run_local)):
                    side()
            trips = []
            for _ in range(ARGS.trips):
                t0 = time.perf_counter()
                acquire_place(address, {"chip": "qsm-washer"}, 60).release()
                trips.append((time.perf_counter() - t0) * 1000)
        finally:
            harness("lab", "down", "--dir", str(lab_dir))
    best_local, best_lab = min(local), min(lab)
    print(f"washer acceptance suite, -n 4, pyocd world ({ARGS.rounds} rounds, best of each)")
    print(f"  4 local emulated benches  {best_local:6.1f} s  "
          f"({' '.join(f'{x:.1f}' for x in local)})")
    print(f"  4 places of the lab       {best_lab:6.1f} s  ({' '.join(f'{x:.1f}' for x in lab)})")
    print(f"  ratio lab / local: {best_lab / best_local:.2f}  (target <= 1.3); per round: "
          f"{' '.join(f'{b / a:.2f}' for a, b in zip(local, lab, strict=True))}")
    print(f"place acquire + release round trip: median {statistics.median(trips):.0f} ms, "
          f"max {max(trips):.0f} ms ({ARGS.trips} trips: a new client, reservation, poll, "
          f"acquire, release, cancel)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--trips", type=int, default=10)
    ARGS = ap.parse_args()
    main()
