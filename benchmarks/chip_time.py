"""Chip time on each chip, in one run:

* the chip-time/wall-time ratio of each firmware's idle loop (goal >= 15x): the chip boots,
  then runs 2 s of wall time while the host reads its clock (QEMU's virtual clock);
* the firmware's own 1 ms tick count over that stretch against chip time: 1.000 on silicon
  (QEMU 7.2 under ``-icount sleep=off`` read 0.5: it delivers one SysTick per two periods to a
  core that sleeps between ticks, see the README);
* determinism: the chip time at which the washer's controller makes its 25th step, on fresh
  chips, quiet and with two CPU-hog processes (goal: zero spread);
* the acceptance suite (``pytest -n 2 tests/acceptance``) with ``--chip-time on`` and ``off``:
  wall time of each, and off / on (goal >= 2), on the machine as it is and with one CPU hog
  (medians of ``--runs`` pairs).

    .venv/bin/python benchmarks/chip_time.py [--runs 3] [--no-suite]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.backends.qemu import open_dut  # noqa: E402
from harness.backends.qemu_world import chip_timed  # noqa: E402
from harness.config import TargetCatalog  # noqa: E402
from harness.firmware import built_image  # noqa: E402
from harness.settings import RunSettings  # noqa: E402
from harness.testing.calls import run_to_call  # noqa: E402
from harness.testing.load import cpu_hogs  # noqa: E402

CHIPS = ("qsm-washer", "qsm-tv", "qsm-auto")


def _chip(catalog: TargetCatalog, name: str):
    target = catalog.get(name)
    settings = RunSettings(root=ROOT, targets_dir=ROOT / "targets", results=ROOT / "results",
                           chip_time="on")
    return chip_timed(target, settings), built_image(target.firmware, catalog.root)


def idle_ratio(catalog: TargetCatalog, name: str, seconds: float = 2.0) -> tuple[float, float]:
    """(chip ns per wall ns, firmware ticks per chip ms) over ``seconds`` of an idle chip."""
    target, image = _chip(catalog, name)
    dut = open_dut(target, image, name=f"bench-{name}")
    try:
        clock, ex = dut.clock, dut.execution

        def both() -> tuple[int, int]:  # the tick count and the clock at the same instant
            ex.halt()
            try:
                return dut.symbols["ms_count"], clock.now()
            finally:
                ex.resume()

        (ticks0, chip0), wall0 = both(), time.perf_counter()
        while time.perf_counter() - wall0 < seconds:
            time.sleep(0.05)
        (ticks1, chip1), wall1 = both(), time.perf_counter()
    finally:
        dut.close()
    chip_ns = chip1 - chip0
    # the readings halt the chip: count wall time in which it could run (reads cost ~1.5 ms)
    return chip_ns / ((wall1 - wall0) * 1e9), (ticks1 - ticks0) / (chip_ns / 1e6)


def step_time(catalog: TargetCatalog, steps: int = 25) -> int:
    """Chip time (ns) of the washer controller's ``steps``-th step after reset."""
    target, image = _chip(catalog, "qsm-washer")
    dut = open_dut(target, image, name="bench-det", boot=False)
    try:
        run_to_call(dut, "washer_step", steps)
        return dut.clock.now()
    finally:
        dut.close()


def suite_seconds(mode: str) -> float:
    """Wall time of the acceptance suite on two workers with ``--chip-time mode``."""
    cmd = [sys.executable, "-m", "pytest", "-n", "2", "-q", "-p", "no:cacheprovider",
           "tests/acceptance", f"--chip-time={mode}"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"the acceptance suite with --chip-time {mode} did not pass:\n"
                 f"{done.stdout[-3000:]}")
    return took


def main() -> None:
    catalog = TargetCatalog(ROOT / "targets")
    print("idle chips on chip time (QEMU -icount sleep=off), 2 s of wall time each")
    for name in CHIPS:
        ratio, ticks = idle_ratio(catalog, name)
        print(f"  {name:11} chip/wall {ratio:5.1f}x (goal >= 15x)   firmware ticks per chip "
              f"ms {ticks:.3f} (silicon: 1.000)")
    quiet = [step_time(catalog) for _ in range(ARGS.runs)]
    with cpu_hogs(2):
        busy = [step_time(catalog) for _ in range(ARGS.runs)]
    both = quiet + busy
    print(f"washer controller's 25th step, {ARGS.runs} fresh chips quiet + {ARGS.runs} with "
          f"2 CPU hogs: {sorted(set(both))} ns; spread {max(both) - min(both)} ns (goal 0)")
    if ARGS.suite:
        for hogs in (0, 1):
            with cpu_hogs(hogs):
                pairs = [(suite_seconds("on"), suite_seconds("off")) for _ in range(ARGS.runs)]
            on = statistics.median(p[0] for p in pairs)
            off = statistics.median(p[1] for p in pairs)
            ratio = statistics.median(p[1] / p[0] for p in pairs)
            print(f"acceptance suite, -n 2, {hogs} CPU hog{'s' * (hogs != 1)} (medians of "
                  f"{ARGS.runs}): chip time on {on:.1f} s, off {off:.1f} s; off / on "
                  f"{ratio:.2f} (goal >= 2)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-suite", dest="suite", action="store_false",
                    help="leave out the acceptance suite's on/off comparison")
    ARGS = ap.parse_args()
    main()
