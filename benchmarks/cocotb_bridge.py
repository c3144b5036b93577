"""Register reads per second through the cocotb bridge vs. the same reads inside the simulator.

One run, same block, same simulator, same APB master coroutine: the in-simulator loop calls it
directly; the bridge run issues each read from this process (``rtl.memory.read_u32``), one
request and one reply per read. Prints both rates and their ratio (target >= 70 %).

    .venv/bin/python benchmarks/cocotb_bridge.py [--reads N] [--simulator icarus|verilator]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.backends.cocotb.blocks import load_blocks  # noqa: E402
from harness.backends.cocotb.rtl import open_rtl  # noqa: E402
from harness.backends.cocotb.runner import SimulatorThread, build  # noqa: E402


def in_simulator(block, simulator: str, build_root: Path, run_dir: Path, reads: int) -> float:
    runner = build(block, simulator, build_root)
    result = run_dir / "rate.json"
    env = {"HARNESS_RTL_BLOCK": block.bridge_env(), "HARNESS_RTL_READS": str(reads),
           "HARNESS_RTL_RESULT": str(result), "COCOTB_REWRITE_ASSERTION_FILES": ""}
    run_dir.mkdir(parents=True, exist_ok=True)
    t = SimulatorThread(runner, block, run_dir, env, testcase="apb_read_rate", waves=False,
                         simulator=simulator)
    t.start()
    t.join()
    if t.outcome() != "passed":
        raise SystemExit(f"in-simulator run: {t.outcome()}\n" + "\n".join(t.log_tail()))
    data = json.loads(result.read_text())
    return data["reads"] / data["seconds"]


def through_bridge(block, simulator: str, build_root: Path, run_dir: Path, reads: int) -> float:
    with open_rtl(block, simulator=simulator, build_root=build_root, run_dir=run_dir,
                  waves=False) as rtl:
        base = rtl.base
        rtl.memory.read_u32(base)  # warm up
        t0 = time.perf_counter()
        for i in range(reads):
            rtl.memory.read_u32(base + 4 * (i % 8))
        elapsed = time.perf_counter() - t0
    return reads / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reads", type=int, default=5000)
    ap.add_argument("--simulator", default="icarus", choices=("icarus", "verilator"))
    ap.add_argument("--block", default="qsm_pwm")
    args = ap.parse_args()
    block = load_blocks(ROOT / "firmware" / "rtl" / "blocks.yaml")[args.block]
    with tempfile.TemporaryDirectory(prefix="bench-rtl-") as tmp:
        tmp = Path(tmp)
        build_root = ROOT / "results" / "rtl-build"
        inside = in_simulator(block, args.simulator, build_root, tmp / "inside", args.reads)
        bridge = through_bridge(block, args.simulator, build_root, tmp / "bridge", args.reads)
    print(f"cocotb bridge, {args.block} on {args.simulator}, {args.reads} register reads")
    print(f"  inside the simulator (no bridge): {inside:10.0f} reads/s")
    print(f"  through the bridge:               {bridge:10.0f} reads/s")
    print(f"  ratio bridge / inside:            {bridge / inside:10.1%}  (target >= 70 %)")


if __name__ == "__main__":
    main()
