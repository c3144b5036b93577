"""The station: N slots in parallel, one pytest subprocess per unit.

Each slot is bound to one bench slot (its DUT position, probe and instruments; leased for the
station's lifetime so two stations never share one). A unit's run is ``python -m pytest <suite>
--target T --slot N --serial=SN ...`` in its own results directory: a crash, a hang or a kill of
one unit cannot take another slot or the station with it. The serial number travels as one argv
element (``--serial=<sn>``), never through a shell, and names no path (see ``serials.dir_name``).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ..errors import ConfigError
from .product import Product
from .serials import dir_name

VERDICTS = ("pass", "fail", "error", "aborted")


@dataclass
class UnitResult:
    serial: str
    slot: int
    attempt: int
    outcome: str  # pass fail error aborted
    seconds: float
    directory: Path
    returncode: int | None
    run_id: int | None = None
    counts: dict = field(default_factory=dict)
    reason: str = ""


@dataclass
class Summary:
    results: list[UnitResult]
    refused: list
    seconds: float

    def final(self) -> dict[str, UnitResult]:
        """The last result per serial number (after retries of errored runs)."""
        out: dict[str, UnitResult] = {}
        for r in self.results:
            out[r.serial] = r
        return out

    @property
    def units(self) -> int:
        return len(self.final())

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.final().values() if r.outcome == outcome)

    @property
    def first_pass_yield(self) -> float:
        firsts = [r for r in self.results if r.attempt == 1]
        return sum(r.outcome == "pass" for r in firsts) / len(firsts) if firsts else 0.0

    @property
    def units_per_hour(self) -> float:
        return self.units * 3600.0 / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        if self.count("fail"):
            return 1
        if self.count("error") or self.count("aborted") or self.refused:
            return 2
        return 0


Listener = Callable[[str, dict], None]


@dataclass
class Station:
    product: Product
    slots: list[int]
    db: str
    name: str
    operator: str
    results: Path
    bench: Path | None = None
    retries: int = 0
    python: str = sys.executable
    extra_args: list[str] = field(default_factory=list)
    listener: Listener = lambda event, data: None

    def command(self, serial: str, slot: int, unit_dir: Path) -> list[str]:
        p = self.product
        cmd = [self.python, "-m", "pytest", *p.suite, f"--target={p.target}",
               f"--slot={slot}", f"--serial={serial}", f"--db={self.db}",
               f"--station={self.name}", f"--operator={self.operator}",
               f"--product={p.name}", f"--results={unit_dir}",
               f"--junitxml={unit_dir / 'junit.xml'}", f"--rootdir={p.root}",
               "-p", "no:cacheprovider", "-q", *p.pytest_args, *self.extra_args]
        if self.bench is not None:
            cmd.append(f"--bench={self.bench}")
        return cmd

    def unit_dir(self, serial: str, slot: int) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        d = self.results / "station" / dir_name(serial) / f"{stamp}-slot{slot}"
        d.mkdir(parents=True, exist_ok=False)
        return d

    # -- one unit ----------------------------------------------------------------------------
    def run_unit(self, serial: str, slot: int, attempt: int) -> UnitResult:
        d = self.unit_dir(serial, slot)
        self.listener("start", {"serial": serial, "slot": slot, "attempt": attempt, "dir": d})
        t0 = time.monotonic()
        env = dict(os.environ, HARNESS_STATION_SLOT=str(slot))
        with open(d / "pytest.log", "wb") as log:
            proc = subprocess.Popen(self.command(serial, slot, d), cwd=self.product.root,
                                    stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, env=env)
            follower = _Follower(d / "progress.jsonl",
                                 lambda ev: self.listener("progress", {"slot": slot, **ev}))
            while True:
                try:
                    proc.wait(timeout=0.02)  # returns the moment the unit's pytest ends
                    break
                except subprocess.TimeoutExpired:
                    follower.poll()
            follower.poll()
        res = UnitResult(serial, slot, attempt, "error", time.monotonic() - t0, d,
                         proc.returncode)
        try:
            data = json.loads((d / "result.json").read_text())
        except (OSError, ValueError):
            res.reason = (f"pytest exited {proc.returncode} without a result; "
                          f"log: {d / 'pytest.log'}")
            res.outcome = "error"
        else:
            res.outcome = data["outcome"] if data["outcome"] in VERDICTS else "error"
            res.run_id = data.get("run_id")
            res.counts = {k: data.get(k, 0) for k in ("passed", "failed", "error", "skipped")}
            if res.outcome != "pass":
                res.reason = f"log: {d / 'pytest.log'}"
        self.listener("end", {"result": res})
        return res

    # -- the line ----------------------------------------------------------------------------
    def run(self, serials: list[str], refused: list | None = None) -> Summary:
        from .records import open_store

        open_store(self.db).dispose()  # the schema exists before the slots race to create it
        todo: queue.Queue = queue.Queue()
        for s in serials:
            todo.put((s, 1))
        results: list[UnitResult] = []
        lock = threading.Lock()
        t0 = time.monotonic()

        def worker(slot: int) -> None:
            while True:
                try:
                    serial, attempt = todo.get_nowait()
                except queue.Empty:
                    return
                res = self.run_unit(serial, slot, attempt)
                with lock:
                    results.append(res)
                if res.outcome in ("error", "aborted") and attempt <= self.retries:
                    todo.put((serial, attempt + 1))

        with contextlib.ExitStack() as stack:
            self._lease_slots(stack)
            threads = [threading.Thread(target=worker, args=(s,), name=f"slot{s}", daemon=True)
                       for s in self.slots]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        return Summary(results, refused or [], time.monotonic() - t0)

    def _lease_slots(self, stack: contextlib.ExitStack) -> None:
        from ..bench import lease

        bench = self.bench.stem if self.bench else "default"
        for s in self.slots:
            stack.enter_context(lease(f"station-slot-{bench}-{s}"))


def bench_slots(bench_path: Path, wanted: int) -> list[int]:
    """The first ``wanted`` slots of the bench inventory; an error names the file if short."""
    from ..bench import load_bench

    bench = load_bench(bench_path)
    if wanted < 1:
        raise ConfigError(f"--slots {wanted}: need at least one slot")
    if len(bench.slots) < wanted:
        raise ConfigError(f"{bench_path}: bench {bench.name!r} has {len(bench.slots)} slot(s) "
                          f"({bench.slots}); --slots {wanted} asks for more")
    return bench.slots[:wanted]


class _Follower:
    """Reads JSON lines appended to a file by the unit's pytest (its progress)."""

    def __init__(self, path: Path, emit: Callable[[dict], None]) -> None:
        self.path = path
        self.emit = emit
        self.offset = 0

    def poll(self) -> None:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n") + 1
        self.offset += end
        for line in data[:end].splitlines():
            with contextlib.suppress(ValueError):
                self.emit(json.loads(line))
