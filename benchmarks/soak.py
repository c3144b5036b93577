"""Soak: thousands of DUT cycles in one process, then no growth in what the process holds.

Four phases, each driving the library in this process (so the counts below are the harness's
own), each opening and closing everything it uses:

1. pooled tests (default 2,000): the warm QEMU pool (``--dut-reuse reset``) hands out a chip at
   power-on state; per test one console command, a memory write and read-back through a DWARF
   symbol, the console log opened in a log dir; the chip goes back to the pool;
2. fresh-process tests (default 300): a new QEMU DUT opened (booted, version checked) and
   closed each time, with the same interaction;
3. pyOCD sessions (default 300): a pyOCD session through the ``qemu:`` probe (``qemu:auto``:
   a QEMU started without an image, flashed by pyOCD), a console command, halt, memory write
   and read-back, resume, close;
4. station units (default 100): the station engine (one pytest subprocess per unit, several
   slots in parallel) tests that many serial numbers into a SQLite store in a temp dir.

Measured after a warm-up (a few iterations of every phase, so lazy imports and caches are not
counted), after each phase and at the end: open fds of this process, its descendant processes
(zombies included), threads (``threading`` and ``/proc/self/task``), run dirs (every entry of
``$HARNESS_RUNDIR``, which this script points at a private temp dir that station units inherit),
listening TCP sockets and unix sockets of this process tree, and this process's RSS (also at
each quarter of a phase: a leak climbs to the end, an allocator settling in flattens out). The
pool phase is also measured with the pool held open (after its first tenth and after its last
test), so a per-test leak that only the pool's close releases shows too. A stale run dir swept
by this process (left behind by one that ended) fails the soak; files or sockets closed by the
garbage collector instead of their owner (ResourceWarning) are listed.

Done when the end shows zero growth in fds, processes, threads, run dirs and sockets against the
start and RSS grew under 10 %; exits 1 otherwise.

    .venv/bin/python benchmarks/soak.py                # full: ~2,000 + 300 + 300 + 100
    .venv/bin/python benchmarks/soak.py --scale 0.05   # quick
    .venv/bin/python benchmarks/soak.py --pooled 500 --fresh 0 --pyocd 0 --units 0
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.config import Target, TargetCatalog  # noqa: E402
from harness.dut import Dut  # noqa: E402
from harness.emu import process as emu_process  # noqa: E402
from harness.firmware import FirmwareImage, build, load_image  # noqa: E402

DEFAULTS = {"pooled": 2000, "fresh": 300, "pyocd": 300, "units": 100}
WARMUP = {"pooled": 20, "fresh": 5, "pyocd": 10, "units": 2}
STATION_SUITE = "tests/acceptance/washer/test_measurements.py"
RSS_LIMIT = 0.10

# metric key → (label, whether any growth fails the soak)
METRICS: dict[str, tuple[str, bool]] = {
    "fds": ("open fds", True),
    "children": ("child processes", True),
    "zombies": ("  of them zombies", True),
    "threads": ("threads (threading)", True),
    "tasks": ("threads (/proc/self/task)", True),
    "rundirs": ("run dirs", True),
    "tcp_listen": ("listening TCP ports", True),
    "unix": ("unix sockets", True),
    "rss": ("RSS (KiB)", False),
}
COUNTS = [k for k, (_, strict) in METRICS.items() if strict]


# -- measuring ---------------------------------------------------------------------------------
def _sockets(proc: psutil.Process, kind: str) -> list:
    try:
        return proc.net_connections(kind=kind)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []


def sample(rundir: Path) -> dict[str, int]:
    """One reading of every metric (after a garbage collection)."""
    gc.collect()
    me = psutil.Process()
    children = me.children(recursive=True)
    tree = [me, *children]
    zombies = 0
    for c in children:
        with contextlib.suppress(psutil.Error):
            zombies += c.status() == psutil.STATUS_ZOMBIE
    listen = sum(1 for p in tree for c in _sockets(p, "inet")
                 if c.status == psutil.CONN_LISTEN)
    unix = sum(len(_sockets(p, "unix")) for p in tree)
    try:
        rundirs = sum(1 for _ in rundir.iterdir())
    except OSError:
        rundirs = -1
    return {
        "fds": len(os.listdir("/proc/self/fd")) - 1,  # minus the listing's own
        "children": len(children),
        "zombies": zombies,
        "threads": threading.active_count(),
        "tasks": len(os.listdir("/proc/self/task")),
        "rundirs": rundirs,
        "tcp_listen": listen,
        "unix": unix,
        "rss": me.memory_info().rss // 1024,
    }


def settled(rundir: Path, baseline: dict[str, int] | None = None,
            timeout: float = 10.0) -> dict[str, int]:
    """A reading once the counts stop moving (a QEMU still exiting, a thread ending): two equal
    readings in a row, or every count back at ``baseline``; the last one after ``timeout``."""
    deadline = time.monotonic() + timeout
    prev = None
    while True:
        s = sample(rundir)
        counts = {k: s[k] for k in COUNTS}
        if baseline is not None and all(counts[k] <= baseline[k] for k in COUNTS):
            return s
        if counts == prev or time.monotonic() > deadline:
            return s
        prev = counts
        time.sleep(0.25)


# -- the chip and its interaction --------------------------------------------------------------
@dataclass
class Ctx:
    target: Target
    image: FirmwareImage
    rundir: Path  # $HARNESS_RUNDIR for this soak
    work: Path  # logs, the SQLite store, station results
    slots: int
    suite: str
    serial_no: int = 0
    held: list[dict[str, int]] = field(default_factory=list)  # pool-open readings
    rss_marks: dict[str, list[int]] = field(default_factory=dict)  # KiB at each quarter
    measuring: bool = False

    def tick(self, key: str, i: int, n: int) -> None:
        """After iteration ``i`` of ``n``: note the RSS at each quarter of a measured phase
        (a leak climbs through all four; an allocator settling in flattens out)."""
        if self.measuring and i + 1 in {max(1, round(n * q / 4)) for q in (1, 2, 3, 4)}:
            self.rss_marks.setdefault(key, []).append(psutil.Process().memory_info().rss // 1024)
    unit_failures: list[str] = field(default_factory=list)


def interact(dut: Dut, i: int, console: bool = True) -> None:
    """A small real test: a console command, a memory write and its read-back."""
    if console:
        status = dut.command("status")
        if not status.startswith("state=IDLE"):
            raise AssertionError(f"{dut.name}: unexpected status {status!r}")
    addr = dut.symbols.address("stimulus.imbalance")
    value = (i * 7) & 0x3F
    dut.memory.write_u32(addr, value)
    got = dut.memory.read_u32(addr)
    if got != value:
        raise AssertionError(f"{dut.name}: wrote {value} at {addr:#x}, read back {got}")


# -- phases: each returns the seconds of its iterations ----------------------------------------
def phase_pooled(ctx: Ctx, n: int, held: bool = False) -> list[float]:
    from harness.backends.qemu_pool import QemuPool

    logs = ctx.work / "logs-pooled"
    pool = QemuPool(ctx.target, ctx.image)
    times = []
    mark = max(1, n // 10)
    try:
        for i in range(n):
            t0 = time.perf_counter()
            dut = pool.acquire(logs)
            try:
                interact(dut, i)
            finally:
                dut.close()
            times.append(time.perf_counter() - t0)
            ctx.tick("pooled", i, n)
            if held and (i + 1 == mark or i + 1 == n):
                ctx.held.append(settled(ctx.rundir))
    finally:
        pool.close()
    return times


def phase_fresh(ctx: Ctx, n: int) -> list[float]:
    from harness.backends.qemu import open_dut

    logs = ctx.work / "logs-fresh"
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        dut = open_dut(ctx.target, ctx.image, log_dir=logs)
        try:
            interact(dut, i)
        finally:
            dut.close()
        times.append(time.perf_counter() - t0)
        ctx.tick("fresh", i, n)
    return times


def phase_pyocd(ctx: Ctx, n: int) -> list[float]:
    from harness.backends.pyocd import AUTO, open_dut

    logs = ctx.work / "logs-pyocd"
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        dut = open_dut(ctx.target, ctx.image, probe=AUTO, log_dir=logs)
        try:
            dut.command("status")
            dut.execution.halt()
            interact(dut, i, console=False)
            pc = dut.execution.read_register("pc")
            if not pc:
                raise AssertionError(f"{dut.name}: pc reads 0 while halted")
            dut.execution.resume()
        finally:
            dut.close()
        times.append(time.perf_counter() - t0)
        ctx.tick("pyocd", i, n)
    return times


def phase_station(ctx: Ctx, n: int) -> list[float]:
    from harness.station.product import load_product
    from harness.station.station import Station

    if n == 0:
        return []
    product = load_product(ctx.target.name, ROOT / "targets")
    product = product.model_copy(update={"suite": [ctx.suite]})
    serials = []
    for _ in range(n):
        ctx.serial_no += 1
        serials.append(f"W2650{ctx.serial_no:06d}")
    station = Station(product, list(range(1, ctx.slots + 1)),
                      f"sqlite:///{ctx.work / 'records.db'}", "soak", "soak",
                      ctx.work / "station", ROOT / "targets/benches/emulated.yaml")
    t0 = time.perf_counter()
    summary = station.run(serials)
    elapsed = time.perf_counter() - t0
    for r in summary.results:
        if r.outcome != "pass":
            try:
                tail = (r.directory / "pytest.log").read_text(errors="replace").splitlines()[-15:]
            except OSError:
                tail = []
            ctx.unit_failures.append(f"{r.serial} slot {r.slot}: {r.outcome} ({r.reason})\n"
                                     + "\n".join(f"    | {line}" for line in tail))
    return [elapsed / n] * n  # units overlap across slots: the mean wall time per unit


PHASES: dict[str, Callable[..., list[float]]] = {
    "pooled": phase_pooled, "fresh": phase_fresh, "pyocd": phase_pyocd, "units": phase_station,
}
TITLES = {"pooled": "pooled tests", "fresh": "fresh-process tests", "pyocd": "pyOCD sessions",
          "units": "station units"}


# -- report ------------------------------------------------------------------------------------
def row(label: str, s: dict[str, int]) -> str:
    return (f"{label:<32}" + "".join(f"{s[k]:>9}" for k in METRICS if k != "rss")
            + f"{s['rss'] / 1024:>10.1f}")


def header() -> str:
    cols = ["fds", "procs", "zombies", "threads", "tasks", "rundirs", "tcp-lstn", "unix"]
    return f"{'reading':<32}" + "".join(f"{c:>9}" for c in cols) + f"{'RSS MiB':>10}"


def verdicts(start: dict[str, int], end: dict[str, int]) -> list[tuple[str, str, bool]]:
    """(metric label, growth text, passed) for every metric."""
    out = []
    for k, (label, strict) in METRICS.items():
        grow = end[k] - start[k]
        if strict:
            out.append((label, f"{grow:+d}", grow <= 0))
        else:
            pct = grow / start[k] if start[k] else 0.0
            out.append((label, f"{grow:+d} ({pct:+.1%})", pct < RSS_LIMIT))
    return out


def final_table(start: dict[str, int], end: dict[str, int]) -> bool:
    print(f"\n{'metric':<28}{'start':>10}{'end':>10}  {'growth':<18}{'goal':<10}verdict")
    ok = True
    for (k, (_, strict)), (label, grow, passed) in zip(METRICS.items(), verdicts(start, end),
                                                       strict=True):
        goal = "0" if strict else f"< {RSS_LIMIT:.0%}"
        print(f"{label:<28}{start[k]:>10}{end[k]:>10}  {grow:<18}{goal:<10}"
              f"{'PASS' if passed else 'FAIL'}")
        ok &= passed
    return ok


# -- main --------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply every phase's count (e.g. 0.05 for a quick run)")
    for key, n in DEFAULTS.items():
        ap.add_argument(f"--{key}", type=int, default=None,
                        help=f"{TITLES[key]} (default {n} x scale)")
    ap.add_argument("--slots", type=int, default=2, help="station slots (default 2)")
    ap.add_argument("--station-suite", default=STATION_SUITE,
                    help=f"suite per station unit (default {STATION_SUITE})")
    ap.add_argument("--no-warmup", action="store_true")
    args = ap.parse_args()
    counts = {k: (getattr(args, k) if getattr(args, k) is not None
                  else max(1, round(n * args.scale))) for k, n in DEFAULTS.items()}

    rundir = Path(tempfile.mkdtemp(prefix="soak-rd-", dir="/tmp"))  # short: socket paths
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    os.environ["HARNESS_RUNDIR"] = str(rundir)
    os.environ["HARNESS_LEASE_DIR"] = str(work / "leases")  # station slots of our own

    # stale run dirs this process sweeps (left by units, whose next sweep hides them)
    swept: list[Path] = []
    real_sweep = emu_process.sweep_stale_rundirs

    def counting_sweep() -> list[Path]:
        removed = real_sweep()
        swept.extend(removed)
        return removed

    emu_process.sweep_stale_rundirs = counting_sweep

    # a file or socket closed by the garbage collector instead of its owner
    unclosed: list[str] = []

    def note_warning(message, category, filename, lineno, file=None, line=None) -> None:
        if issubclass(category, ResourceWarning):
            unclosed.append(f"{message} ({filename}:{lineno})")
        else:
            show_warning(message, category, filename, lineno, file, line)

    show_warning = warnings.showwarning
    warnings.showwarning = note_warning
    warnings.simplefilter("always", ResourceWarning)

    target = TargetCatalog(ROOT / "targets").get("qsm-washer")
    spec = target.firmware
    elf = build(spec.build, ROOT / spec.path, [ROOT / s for s in spec.sources], ROOT)
    image = load_image(elf, spec.version_symbol)
    ctx = Ctx(target, image, rundir, work, args.slots, args.station_suite)
    print(f"soak: {', '.join(f'{counts[k]} {TITLES[k]}' for k in DEFAULTS)}; "
          f"{image.version}; {args.slots} station slot(s), suite {args.station_suite}")
    print(f"run dirs under {rundir}, work dir {work}", flush=True)
    t_all = time.perf_counter()
    ok = True
    try:
        if not args.no_warmup:
            t0 = time.perf_counter()
            for key, fn in PHASES.items():
                if counts[key]:
                    fn(ctx, WARMUP[key])
            print(f"warm-up ({', '.join(f'{WARMUP[k]} {k}' for k in WARMUP if counts[k])}): "
                  f"{time.perf_counter() - t0:.1f} s", flush=True)
        start = settled(rundir)
        unclosed.clear()
        ctx.measuring = True
        print()
        print(header())
        print(row("start (after warm-up)", start), flush=True)
        timings: list[tuple[str, int, float, list[float]]] = []
        for key, fn in PHASES.items():
            n = counts[key]
            if not n:
                continue
            t0 = time.perf_counter()
            times = fn(ctx, n, held=True) if key == "pooled" else fn(ctx, n)
            elapsed = time.perf_counter() - t0
            timings.append((key, n, elapsed, times))
            if key == "pooled" and len(ctx.held) == 2:
                print(row(f"  pool open, after {max(1, n // 10)}", ctx.held[0]))
                print(row(f"  pool open, after {n}", ctx.held[1]))
            print(row(f"after {n} {TITLES[key]}", settled(rundir, start)), flush=True)
        end = settled(rundir, start)
        print(row("end", end))
        total = time.perf_counter() - t_all

        print(f"\n{'phase':<24}{'count':>7}{'elapsed s':>11}{'mean ms':>10}{'median ms':>11}"
              f"{'max ms':>9}   RSS MiB at each quarter")
        for key, n, elapsed, times in timings:
            marks = " ".join(f"{kib / 1024:.1f}" for kib in ctx.rss_marks.get(key, []))
            print(f"{TITLES[key]:<24}{n:>7}{elapsed:>11.1f}{statistics.fmean(times) * 1e3:>10.1f}"
                  f"{statistics.median(times) * 1e3:>11.1f}{max(times) * 1e3:>9.1f}   {marks}")
        print(f"total, with warm-up and readings: {total:.1f} s")

        ok = final_table(start, end)
        if len(ctx.held) == 2:
            growth = {k: ctx.held[1][k] - ctx.held[0][k] for k in COUNTS}
            held_ok = all(v <= 0 for v in growth.values())
            grown = ", ".join(f"{METRICS[k][0]} {v:+d}" for k, v in growth.items() if v > 0)
            print(f"pool held open over {counts['pooled'] - max(1, counts['pooled'] // 10)} "
                  f"tests: {'no growth' if held_ok else grown}  "
                  f"{'PASS' if held_ok else 'FAIL'}")
            ok &= held_ok
        if swept:
            print(f"stale run dirs swept during the soak (left by a process that ended): "
                  f"{len(swept)}  FAIL")
            ok = False
        if unclosed:
            print(f"note: {len(unclosed)} resource(s) closed by the garbage collector, not by "
                  f"their owner (ResourceWarning); first ones:")
            for text in list(dict.fromkeys(unclosed))[:5]:
                print(f"  {text}")
        if ctx.unit_failures:
            print(f"station units not passing: {len(ctx.unit_failures)}  FAIL")
            for line in ctx.unit_failures[:5]:
                print(f"  {line}")
            ok = False
        print(f"\nsoak {'PASSED' if ok else 'FAILED'}")
    finally:
        emu_process.sweep_stale_rundirs = real_sweep
        warnings.showwarning = show_warning
        shutil.rmtree(work, ignore_errors=True)
        left = list(rundir.iterdir()) if rundir.exists() else []
        if left:
            print(f"left in {rundir}: {[p.name for p in left]}")
        shutil.rmtree(rundir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
