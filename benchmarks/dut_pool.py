"""Per-test cost of a chip at power-on state: warm pool reset vs. fresh process vs. raw QEMU.

Same firmware and steps per "test": a chip at power-on → banner/READY → ``version`` → done.

(a) raw: a hand-written cycle — launch qemu-system-arm, read to READY, one command, terminate;
(b) fresh: the harness's ``--dut-reuse fresh`` path — a new QEMU per test (``open_dut``/close);
(c) pooled: the default ``--dut-reuse reset`` path — the warm chip is halted, flash-hashed,
    reset, RAM-scrubbed, UART restored, console cleared, booted (``QemuPool.acquire``/close).

Prints medians and ratios in one run (each kind in its own block); target: pooled ≤ 5 ms.
Then the plugin's fixed cost: a bare ``pytest`` run of one trivial test with and without the
plugin (target ≤ 0.15 s).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from boot_cycle import harness_cycle, raw_cycle  # noqa: E402

from harness.backends.qemu_pool import QemuPool  # noqa: E402
from harness.config import TargetCatalog  # noqa: E402
from harness.firmware import build, load_image  # noqa: E402

PEERS_MS = {"labgrid QEMUDriver": 44.0, "pytest-embedded QEMU": 120.0}


def pooled_cycle(pool: QemuPool) -> float:
    t0 = time.perf_counter()
    dut = pool.acquire()
    dut.command("version")
    dut.close()
    return time.perf_counter() - t0


def pytest_fixed_cost(runs: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as d:
        Path(d, "test_bare.py").write_text("def test_nothing():\n    pass\n")
        Path(d, "pytest.ini").write_text("[pytest]\n")

        def once(*extra: str) -> float:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            *extra, "test_bare.py"], cwd=d, check=True,
                           capture_output=True)
            return time.perf_counter() - t0

        from importlib.metadata import entry_points

        ours = [ep.name for ep in entry_points(group="pytest11")
                if ep.value.startswith("harness.")]
        disable = [arg for name in ours for arg in ("-p", f"no:{name}")]
        with_plugin, without = [], []
        for _ in range(runs):
            with_plugin.append(once())
            without.append(once(*disable))
    return statistics.median(with_plugin), statistics.median(without)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=50, help="cycles of each kind (default 50)")
    args = ap.parse_args()
    target = TargetCatalog(ROOT / "targets").get("qsm-washer")
    spec = target.firmware
    elf = build(spec.build, ROOT / spec.path, [ROOT / s for s in spec.sources], ROOT)
    image = load_image(elf, spec.version_symbol)
    pool = QemuPool(target, image)
    try:
        pooled_cycle(pool)
        raw_cycle(elf, target.qemu.machine)
        harness_cycle(target, image)
        # each kind in its own block: interleaved, the QEMU that a raw or fresh cycle has just
        # killed is still exiting (unmapping its guest RAM) during the next pooled cycle,
        # which a run of pooled tests never has
        raw = [raw_cycle(elf, target.qemu.machine) for _ in range(args.n)]
        fresh = [harness_cycle(target, image) for _ in range(args.n)]
        pooled = [pooled_cycle(pool) for _ in range(args.n)]
        stats = dict(pool.stats)
    finally:
        pool.close()
    a, b, c = (statistics.median(x) * 1e3 for x in (raw, fresh, pooled))
    print(f"per-test chip at power-on + banner + one command, N={args.n} each, {image.version}")
    print(f"  (a) raw hand-written QEMU cycle   median {a:7.2f} ms")
    print(f"  (b) harness, fresh process        median {b:7.2f} ms   b/a = {b / a:.2f}")
    print(f"  (c) harness, pooled reset         median {c:7.2f} ms   c/a = {c / a:.2f}   "
          f"(target <= 5 ms; p90 {sorted(pooled)[int(0.9 * len(pooled))] * 1e3:.2f} ms)")
    print(f"  pool: {stats}")
    for peer, ms in PEERS_MS.items():
        print(f"  vs {peer} (~{ms:.0f} ms/test measured here): {ms / c:.0f}x faster")
    w, wo = pytest_fixed_cost(7)
    print(f"plugins' fixed cost on a bare pytest run: {(w - wo) * 1e3:+.0f} ms "
          f"({w:.3f} s with, {wo:.3f} s without; target <= 150 ms)")


if __name__ == "__main__":
    main()
