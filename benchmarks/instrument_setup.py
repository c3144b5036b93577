"""What the lab instruments add to a test's setup, per bench slot, and to a station's throughput.

(a) Setup per test: one ``pytest`` run per slot and bench, N tests each, the per-test setup
    times pytest reports (the warm chip pool's reset and boot, plus whatever the instruments
    add: the supply's power sequencing before boot, the instruments' identities and coupling
    after it). "full": the emulated bench (``targets/benches/emulated.yaml``), each test asking
    for ``dut``, ``psu``, ``dmm`` and ``counter``; "bare": the same probes, no instrument, each
    test asking for ``dut``. Prints the medians per slot and the difference full − bare
    (target ≤ 10 ms on every slot). Slots 1 and 3 have LXI (TCP) supplies, slot 2 an RS-232
    supply whose pty moves bytes at the bench file's baud rate; ``--serial-baud`` sets
    another rate for the serial supplies (what the same bench costs on a faster line).

(b) Station throughput (``--units K``, default 1; 0 skips it): ``harness station run`` of the
    product on one slot whose supply is a Rigol DP832 on TCP, then on one whose DP832 is on
    its serial port (the bench file's baud rate), the same K units each, alternated
    ``--rounds`` times; prints units/hour of each (best round) and their ratio (target: TCP
    within 5 % of serial).

    .venv/bin/python benchmarks/instrument_setup.py [-n 40] [--slots 1 2 3] [--units 1]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "targets/benches/emulated.yaml"
WARMUP = 3  # first tests of a run: the chip starts and the instruments open

TESTS = '''\
import pytest

pytestmark = pytest.mark.targets("qsm-washer")
N = {n}


@pytest.mark.parametrize("i", range(N))
def test_full(dut, psu, dmm, counter, i):
    assert psu.output_on


@pytest.mark.parametrize("i", range(N))
def test_bare(dut, i):
    pass
'''

TIMER = '''\
import json
import os

_setup = []


def pytest_runtest_logreport(report):
    if report.when == "setup":
        _setup.append((report.nodeid, report.outcome, report.duration))


def pytest_sessionfinish(session):
    with open(os.environ["SETUP_TIMES"], "w") as f:
        json.dump(_setup, f)
'''


def benches(tmp: Path, serial_baud: int | None) -> tuple[Path, Path]:
    """(full, bare): the emulated bench (serial supplies at ``serial_baud`` if given), and its
    probes alone."""
    data = yaml.safe_load(BENCH.read_text())
    full = copy.deepcopy(data)
    if serial_baud:
        for inst in full["instruments"]:
            if "serial" in inst:
                inst["serial"]["baud_rate"] = serial_baud
    bare = {k: v for k, v in data.items() if k != "instruments"}
    paths = tmp / "bench-full.yaml", tmp / "bench-bare.yaml"
    for path, content in zip(paths, (full, bare), strict=True):
        path.write_text(yaml.safe_dump(content, sort_keys=False))
    return paths


def setup_times(tmp: Path, bench: Path, slot: int, which: str) -> list[float]:
    """Setup seconds of each test after the warm-up, from one pytest run."""
    out = tmp / f"setup-{which}-{slot}.json"
    env = dict(os.environ, SETUP_TIMES=str(out),
               PYTHONPATH=os.pathsep.join(filter(None, [str(tmp), os.environ.get("PYTHONPATH")])))
    cmd = [sys.executable, "-m", "pytest", str(tmp / "test_setup_bench.py"), "-q",
           "-c", str(ROOT / "tox.ini"), "--rootdir", str(ROOT), "-p", "no:cacheprovider",
           "-p", "setup_timer", "--target", "qsm-washer", f"--slot={slot}",
           f"--bench={bench}", f"--results={tmp / 'results'}", "-k", f"test_{which}"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-2000:])
        raise SystemExit(f"slot {slot} ({which} bench): pytest exited {proc.returncode}")
    found = json.loads(out.read_text())
    bad = [nodeid for nodeid, outcome, _ in found if outcome != "passed"]
    if bad:
        raise SystemExit(f"slot {slot} ({which} bench): setup did not pass for {bad[:3]}")
    return [d for _, _, d in found[WARMUP:]]


def setup_block(tmp: Path, n: int, slots: list[int], serial_baud: int | None) -> None:
    full, bare = benches(tmp, serial_baud)
    bench = yaml.safe_load(full.read_text())
    print(f"test setup with and without instruments, {n} tests per run, median after "
          f"{WARMUP} warm-up tests")
    rows = []
    for slot in slots:
        psu = next((i for i in bench["instruments"] if i["kind"] == "psu" and i["slot"] == slot),
                   None)
        line = "-" if psu is None else (
            f"serial {psu['serial']['baud_rate']} baud" if "serial" in psu else "LXI (TCP)")
        with_, without = [], []
        for _ in range(2):  # alternated, so drift in machine load hits both alike
            with_ += setup_times(tmp, full, slot, "full")
            without += setup_times(tmp, bare, slot, "bare")
        a, b = statistics.median(with_) * 1e3, statistics.median(without) * 1e3
        rows.append((slot, a - b))
        print(f"  slot {slot} (supply: {line:18}) full {a:7.2f} ms   bare {b:6.2f} ms   "
              f"difference {a - b:+7.2f} ms   (target <= 10 ms)")
    worst = max(d for _, d in rows)
    print(f"  worst slot: {worst:+.2f} ms more with instruments")


# -- (b) station throughput ------------------------------------------------------------------
def station_bench(tmp: Path, transport: str) -> Path:
    """One slot: the emulated bench's slot-1 probe, meter and counter, and a Rigol DP832 on
    TCP or on its serial port (at the emulated bench's serial baud rate)."""
    data = yaml.safe_load(BENCH.read_text())
    serial_psu = next(i for i in data["instruments"] if i["kind"] == "psu" and "serial" in i)
    psu = copy.deepcopy(serial_psu)
    psu.update(name="psu-1", slot=1)
    if transport == "tcp":
        psu["resource"] = "virtual:rigol-dp832"
        del psu["serial"]
    others = [i for i in data["instruments"] if i["slot"] == 1 and i["kind"] != "psu"]
    bench = {"name": f"station-{transport}", "description": f"one slot, supply on {transport}",
             "probes": [p for p in data["probes"] if p["slot"] == 1],
             "instruments": [psu, *others]}
    path = tmp / f"bench-station-{transport}.yaml"
    path.write_text(yaml.safe_dump(bench, sort_keys=False))
    return path


def station_round(tmp: Path, transport: str, serials: list[str]) -> tuple[float, str]:
    """Units per hour of one ``harness station run`` of the units ``serials``."""
    cmd = [str(Path(sys.executable).with_name("harness")), "station", "run", *serials,
           "--product", "qsm-washer", "--slots", "1", "--bench",
           str(station_bench(tmp, transport)), "--db",
           f"sqlite:///{tmp / 'station.db'}", "--create", "--results", str(tmp / "station"),
           "--station", "bench", "--operator", "bench"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    m = re.search(r"units per hour: (\d+)", proc.stdout)
    verdicts = re.findall(r"^(PASS|FAIL|ERROR|ABORTED)\b", proc.stdout, re.MULTILINE)
    if m is None:
        print(proc.stdout[-3000:], proc.stderr[-2000:])
        raise SystemExit(f"station run ({transport}) printed no units per hour")
    return float(m.group(1)), f"{wall:.1f} s wall, {'/'.join(verdicts) or 'no verdicts'}"


def station_block(tmp: Path, units: int, rounds: int) -> None:
    print(f"station throughput, one slot, {units} unit(s) per run, {rounds} round(s), best "
          f"round")
    best: dict[str, float] = {}
    for r in range(rounds):
        # the same units on both benches: each serial seeds its board's analog spread
        serials = [f"W2650{r * units + i + 1:06d}" for i in range(units)]
        for transport in ("tcp", "serial"):
            uph, how = station_round(tmp, transport, serials)
            best[transport] = max(best.get(transport, 0.0), uph)
            print(f"  round {r + 1} {transport:6}: {uph:6.0f} units/hour  ({how})")
    ratio = best["tcp"] / best["serial"]
    print(f"  TCP supply {best['tcp']:.0f} units/hour vs serial {best['serial']:.0f}: ratio "
          f"{ratio:.3f}  (target: TCP within 5 % of serial, >= 0.95)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=40, help="tests per pytest run (default 40)")
    ap.add_argument("--slots", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--serial-baud", type=int, default=None,
                    help="baud rate of the serial supplies (default: the bench file's)")
    ap.add_argument("--units", type=int, default=1,
                    help="units per station run in (b); 0 skips (b) (default 1)")
    ap.add_argument("--rounds", type=int, default=3, help="station rounds (default 3)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="instrument-setup-") as d:
        tmp = Path(d)
        (tmp / "test_setup_bench.py").write_text(TESTS.format(n=args.n + WARMUP))
        (tmp / "setup_timer.py").write_text(TIMER)
        setup_block(tmp, args.n, args.slots, args.serial_baud)
        if args.units > 0:
            station_block(tmp, args.units, args.rounds)


if __name__ == "__main__":
    main()
