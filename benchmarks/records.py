"""Records and station benchmarks (ratios, measured in one run; not part of the test suite).

1. Cost per recorded measurement (each one its own committed transaction) in runs of 100, 1,000
   and 10,000 measurements: flat means no growth with the run's size.
2. Station overhead as a share of the DUT test time: the product's suite for one unit run by the
   station (subprocess, records, progress) vs the same suite run by plain pytest.
3. Throughput of the emulated line: units per hour with 4 slots vs 1.

    .venv/bin/python benchmarks/records.py [--db URL] [--units 8] [--reps 3] [--suite PATH]
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

from harness.station import records as R  # noqa: E402
from harness.station.limits import Limit  # noqa: E402
from harness.station.product import load_product  # noqa: E402
from harness.station.recorder import Recorder, RunInfo  # noqa: E402
from harness.station.station import Station  # noqa: E402

LIMIT = Limit(name="fill_time", low=30, high=55, unit="s", marginal=3)


def per_measurement(url: str, n: int) -> tuple[float, float, float]:
    """(mean µs per measurement, µs in the first 10 %, µs in the last 10 %) of a run of n."""
    engine = R.open_store(url)
    rec = Recorder.start(engine, RunInfo(f"BENCH-{n}-{time.time_ns()}", "bench", "B", "bench",
                                         1, "bench"))
    step = rec.start_step("bench::measure")
    times = []
    for i in range(n):
        t = time.perf_counter()
        rec.measurement(step, LIMIT.judge(40 + (i % 10) * 0.1, "s"), "0" * 64)
        times.append(time.perf_counter() - t)
    engine.dispose()
    k = max(1, n // 10)
    return (statistics.fmean(times) * 1e6, statistics.fmean(times[:k]) * 1e6,
            statistics.fmean(times[-k:]) * 1e6)


def bench_measurements(url: str) -> None:
    print(f"1. cost per recorded measurement ({url.split(':')[0]}; one commit each)")
    base = None
    for n in (100, 1_000, 10_000):
        mean, first, last = per_measurement(url, n)
        base = base or mean
        print(f"   {n:6} in a run: {mean:7.1f} µs each, x{mean / base:4.2f} of the 100-run; "
              f"last 10 % / first 10 % = {last / first:4.2f}")


def _plain(product, tmp: Path) -> float:
    t = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "pytest", *product.suite,
                          f"--target={product.target}", "--slot=1", "-p", "no:cacheprovider",
                          "-q", f"--results={tmp}", *product.pytest_args],
                         cwd=ROOT, capture_output=True)
    elapsed = time.perf_counter() - t
    if res.returncode not in (0, 1):
        sys.exit(f"plain pytest failed ({res.returncode}):\n{res.stdout.decode()[-2000:]}")
    return elapsed


def _station(product, tmp: Path, slots: int, serials: list[str]):
    st = Station(product, list(range(1, slots + 1)), f"sqlite:///{tmp / 'harness.db'}",
                 "bench", "bench", tmp, ROOT / "targets/benches/emulated.yaml")
    R.open_store(st.db).dispose()
    t = time.perf_counter()
    summary = st.run(serials)
    return time.perf_counter() - t, summary


def bench_overhead(product, reps: int) -> None:
    print(f"2. station overhead for one unit (suite {' '.join(product.suite)}; median of "
          f"{reps})")
    plain, station = [], []
    with tempfile.TemporaryDirectory() as d:
        for i in range(reps):
            plain.append(_plain(product, Path(d) / f"plain{i}"))
            station.append(_station(product, Path(d) / f"st{i}", 1, [f"W2644{i:06d}"])[0])
    p, s = statistics.median(plain), statistics.median(station)
    print(f"   station / plain pytest = {s / p:.3f}  -> overhead {100 * (s - p) / p:+.1f} % "
          f"of the DUT test time (target <= 2 %)")


def bench_throughput(product, units: int) -> None:
    print(f"3. throughput, {units} units")
    rates = {}
    with tempfile.TemporaryDirectory() as d:
        for slots in (1, 4):
            serials = [f"W2645{slots}{i:05d}" for i in range(units)]
            elapsed, summary = _station(product, Path(d) / f"s{slots}", slots, serials)
            rates[slots] = summary.units_per_hour
            print(f"   {slots} slot(s): {summary.units_per_hour:7.0f} units/h "
                  f"(pass {summary.count('pass')}, fail {summary.count('fail')}, "
                  f"error {summary.count('error')})")
    print(f"   4 slots / 1 slot = {rates[4] / rates[1]:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", help="store for part 1 (default: a temp SQLite file)")
    ap.add_argument("--units", type=int, default=8)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--suite", action="append", help="suite instead of the product's")
    ap.add_argument("--only", choices=("records", "overhead", "throughput"))
    args = ap.parse_args()
    product = load_product("qsm-washer", ROOT / "targets")
    if args.suite:
        product = product.model_copy(update={"suite": args.suite})
    with tempfile.TemporaryDirectory() as d:
        if args.only in (None, "records"):
            bench_measurements(args.db or f"sqlite:///{d}/bench.db")
    if args.only in (None, "overhead"):
        bench_overhead(product, args.reps)
    if args.only in (None, "throughput"):
        bench_throughput(product, args.units)


if __name__ == "__main__":
    main()
