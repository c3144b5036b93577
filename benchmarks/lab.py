"""What running on the lab costs: the washer's acceptance suite on 4 places of an emulated lab
(``--lab``: reserve, acquire, release through labgrid's coordinator; probe through ``pyocd
server``, console through ser2net's RFC 2217, instruments as LXI resources on the bench hosts)
vs. the same suite on the 4 slots of the local emulated bench (``targets/benches/emulated.yaml``:
the harness's own virtual instruments) in the same pyocd world. Both with ``-n 4``; every test
runs on both (no skip). Prints the wall time of each, their ratio (target <= 1.3), and a place's
acquire + release round trip through the coordinator.

    .venv/bin/python benchmarks/lab.py [--rounds 2] [--trips 10]
"""

from __future__ import annotations

import argparse
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

SUITE = ["tests/acceptance/washer", "-n", "4", "-p", "no:cacheprovider", "-q"]
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


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-lab-") as tmp_:
        tmp = Path(tmp_)
        bench = BENCH
        out = harness("lab", "up", "2", "--benches", "2", "--dir", str(tmp / "lab"))
        address = re.search(r"coordinator (\S+)", out).group(1)  # type: ignore[union-attr]
        try:
            local, lab = [], []
            for _ in range(ARGS.rounds):
                local.append(suite("--world", "pyocd", f"--bench={bench}"))
                lab.append(suite(f"--lab={address}", "--lab-tags=chip=qsm-washer"))
            trips = []
            for _ in range(ARGS.trips):
                t0 = time.perf_counter()
                acquire_place(address, {"chip": "qsm-washer"}, 60).release()
                trips.append((time.perf_counter() - t0) * 1000)
        finally:
            harness("lab", "down", "--dir", str(tmp / "lab"))
    best_local, best_lab = min(local), min(lab)
    print(f"washer acceptance suite, -n 4, pyocd world ({ARGS.rounds} rounds, best of each)")
    print(f"  4 local emulated benches  {best_local:6.1f} s  "
          f"({' '.join(f'{x:.1f}' for x in local)})")
    print(f"  4 places of the lab       {best_lab:6.1f} s  ({' '.join(f'{x:.1f}' for x in lab)})")
    print(f"  ratio lab / local: {best_lab / best_local:.2f}  (target <= 1.3)")
    print(f"place acquire + release round trip: median {statistics.median(trips):.0f} ms, "
          f"max {max(trips):.0f} ms ({ARGS.trips} trips: a new client, reservation, poll, "
          f"acquire, release, cancel)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--trips", type=int, default=10)
    ARGS = ap.parse_args()
    main()
