"""All chips' acceptance suites on two pytest-xdist workers vs. one process, in one run.

Target: ≥ 1.7× on 2 cores. Each suite run is a fresh ``pytest tests/acceptance`` (qemu world,
warm-chip pool on each worker).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def wall(jobs: int) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "tests/acceptance", "-q",
                           "-p", "no:cacheprovider", "-n", str(jobs)],
                          cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    if proc.returncode != 0:
        print(proc.stdout[-3000:])
        raise SystemExit(f"acceptance suites failed with -n {jobs}")
    return elapsed, last


def main() -> None:
    serial, s_line = wall(0)
    parallel, p_line = wall(2)
    print("acceptance suites of every chip (tests/acceptance)")
    print(f"  -n 0: {serial:6.2f} s   ({s_line})")
    print(f"  -n 2: {parallel:6.2f} s   ({p_line})")
    print(f"  speed-up -n 2 vs -n 0: {serial / parallel:.2f}x  (target >= 1.7x on 2 cores)")


if __name__ == "__main__":
    main()
