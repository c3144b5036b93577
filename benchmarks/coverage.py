"""Firmware coverage's cost: the instrumented suite vs. the uninstrumented one, in one run.

The same suite (default: every chip's acceptance suite and C unit tests, qemu world, two
workers) runs with and without ``--firmware-coverage``, alternating, ``--rounds`` times each;
the ratio of the median wall times is the cost of coverage (target ≤ 1.3×), reports at the
end of the run included. Then the per-test counter read (halt, read, zero, resume) from the
coverage run's own records, against the median test duration, and the time the end-of-run
reports took on their own. Both firmware variants are built before anything is timed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.coverage import store  # noqa: E402
from harness.coverage.reports import build_reports  # noqa: E402


def run_suite(paths: list[str], jobs: int, results: Path, coverage: bool) -> float:
    cmd = [sys.executable, "-m", "pytest", *paths, "-q", "-p", "no:cacheprovider",
           "-n", str(jobs), "--results", str(results),
           "--junitxml", str(results / "junit.xml")]
    if coverage:
        cmd.append("--firmware-coverage")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stdout[-4000:])
        raise SystemExit(f"the suite failed ({'with' if coverage else 'without'} coverage)")
    return elapsed


def test_durations(junit: Path) -> list[float]:
    return [float(case.get("time", "0")) for case in ET.parse(junit).getroot().iter("testcase")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", default=["tests/acceptance", "firmware"])
    ap.add_argument("-n", type=int, default=2, help="pytest-xdist workers (default 2)")
    ap.add_argument("--rounds", type=int, default=1, help="runs of each kind (default 1)")
    args = ap.parse_args()
    subprocess.run(["make", "-s", "-C", "firmware"], cwd=ROOT, check=True)
    subprocess.run(["make", "-s", "-C", "firmware", "COVERAGE=1"], cwd=ROOT, check=True)
    plain: list[float] = []
    instrumented: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-coverage-") as tmp:
        base = Path(tmp)
        for r in range(args.rounds):
            order = [False, True] if r % 2 == 0 else [True, False]
            for coverage in order:
                results = base / ("cov" if coverage else "plain")
                (instrumented if coverage else plain).append(
                    run_suite(args.paths, args.n, results, coverage))
        cov_dir = base / "cov" / "coverage"
        records = [r for r in store.read_all(cov_dir) if not r.missing]
        reads = sorted(r.seconds * 1e3 for r in records)
        durations = sorted(d * 1e3 for d in test_durations(base / "cov" / "junit.xml"))
        t0 = time.perf_counter()
        reports = build_reports(cov_dir, ROOT, "arm-none-eabi-gcov",
                                ("firmware/.*/tests/", "firmware/common/qtest"))
        report_s = time.perf_counter() - t0
    a, b = statistics.median(plain), statistics.median(instrumented)
    print(f"suite: {' '.join(args.paths)}  (-n {args.n}, {args.rounds} round(s), qemu world)")
    print(f"  uninstrumented:       {a:7.2f} s")
    print(f"  --firmware-coverage:  {b:7.2f} s   (reports for {len(reports)} chips included)")
    print(f"  ratio: {b / a:.2f}x  (target <= 1.3x)")
    if reads:
        med = statistics.median(reads)
        print(f"counter read per test (halt, read, resume), {len(reads)} tests: median "
              f"{med:.2f} ms, mean {statistics.mean(reads):.2f} ms, max {reads[-1]:.2f} ms")
        if durations:
            print(f"  = {100 * med / statistics.median(durations):.1f}% of the median test "
                  f"({statistics.median(durations):.1f} ms)")
    print(f"end-of-run reports (gcovr HTML/Cobertura + per-test line map), rebuilt alone: "
          f"{report_s:.2f} s")
    for rep in reports:
        print(f"  {rep.target}: {rep.totals.describe() if rep.totals else rep.error}")


if __name__ == "__main__":
    main()
