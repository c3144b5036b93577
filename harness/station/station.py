"""The station: N slots in parallel, one pytest subprocess per unit.

Each slot is bound to one bench slot (its DUT position, probe and instruments; leased for the
station's lifetime so two stations never share one). A unit's run is ``python -m pytest <suite>
--target T --slot N --serial=SN ...`` in its own results directory: a crash, a hang or a kill of
one unit cannot take another slot or the station with it. The serial number travels as one argv
element (``--serial=<sn>``), never through a shell, and names no path (see ``serials.dir_name``).

The unit's output comes to the station through a pipe and is written to its ``pytest.log``
here: a results disk that fills up cannot make the unit's own terminal writes fail, and the
station says which path could not be written ("no space left on device") instead of losing the
verdict. A slot whose results disk has no space left does not start a unit at all.
"""

from __future__ import annotations

import contextlib
import errno
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

from ..errors import ConfigError, HarnessError
from .product import Product
from .run import NO_SPACE, RESULT_LINE, disk_full
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
    db_wait: float | None = None  # s a unit waits for a record store that went away

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
        t0 = time.monotonic()
        try:
            no_space(self.results)
            d = self.unit_dir(serial, slot)
            log = _Log(d / "pytest.log")
        except OSError as exc:
            where = exc.filename or self.results
            why = NO_SPACE if disk_full(exc) is not None else (exc.strerror or str(exc))
            res = UnitResult(serial, slot, attempt, "error", time.monotonic() - t0,
                             self.results, None, reason=f"not started: {where}: {why}")
            self.listener("start", {"serial": serial, "slot": slot, "attempt": attempt,
                                    "dir": self.results})
            self.listener("end", {"result": res})
            return res
        self.listener("start", {"serial": serial, "slot": slot, "attempt": attempt, "dir": d})
        env = dict(os.environ, HARNESS_STATION_SLOT=str(slot))
        if self.db_wait is not None:
            from .recorder import ENV_WAIT

            env[ENV_WAIT] = repr(self.db_wait)
        with log:
            proc = subprocess.Popen(self.command(serial, slot, d), cwd=self.product.root,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, env=env)
            assert proc.stdout is not None
            os.set_blocking(proc.stdout.fileno(), False)
            follower = _Follower(d / "progress.jsonl",
                                 lambda ev: self.listener("progress", {"slot": slot, **ev}))
            try:
                while True:
                    try:
                        proc.wait(timeout=0.02)  # returns the moment the unit's pytest ends
                        break
                    except subprocess.TimeoutExpired:
                        log.pump(proc.stdout.fileno())
                        follower.poll()
                log.pump(proc.stdout.fileno())
                follower.poll()
            finally:
                proc.stdout.close()
                if proc.poll() is None:  # only if the station itself is failing
                    proc.kill()
                    proc.wait()
        res = UnitResult(serial, slot, attempt, "error", time.monotonic() - t0, d,
                         proc.returncode)
        data = self._result(d, log)
        if data is None:
            res.reason = f"pytest exited {proc.returncode} without a result"
        else:
            res.outcome = data["outcome"] if data["outcome"] in VERDICTS else "error"
            res.run_id = data.get("run_id")
            res.counts = {k: data.get(k, 0) for k in ("passed", "failed", "error", "skipped")}
            res.reason = str(data.get("reason") or "")
        if res.outcome != "pass":
            res.reason = "; ".join(r for r in (res.reason, self._full_disk(d, data),
                                               log.where()) if r)
        self.listener("end", {"result": res})
        return res

    @staticmethod
    def _result(d: Path, log: _Log) -> dict | None:
        """The unit's result: ``result.json``, else the line it printed when it could not
        write the file."""
        try:
            data = json.loads((d / "result.json").read_text())
        except (OSError, ValueError):
            data = None
            for line in reversed(log.tail().splitlines()):
                if RESULT_LINE in line:  # stdout and stderr share the pipe: maybe mid-line
                    with contextlib.suppress(ValueError):
                        data = json.loads(line.rsplit(RESULT_LINE, 1)[1])
                    break
        return data if isinstance(data, dict) and "outcome" in data else None

    @staticmethod
    def _full_disk(d: Path, data: dict | None) -> str:
        """Why a unit that did not say so itself may have failed: its results disk is full."""
        if data is not None and NO_SPACE in str(data.get("reason", "")).lower():
            return ""
        try:
            no_space(d)
        except OSError as exc:
            return f"results disk full: {exc.filename}: {NO_SPACE}"
        return ""

    # -- the line ----------------------------------------------------------------------------
    def run(self, serials: list[str], refused: list | None = None) -> Summary:
        from sqlalchemy.engine import make_url

        from .records import RecordError, open_store

        try:
            no_space(self.results)
        except OSError:
            raise HarnessError(f"results directory {self.results}: {NO_SPACE}") from None
        try:
            open_store(self.db).dispose()  # the schema exists before the slots race to create it
        except RecordError as exc:
            db = make_url(self.db).database if self.db.startswith("sqlite") else None
            try:
                if db:
                    no_space(Path(db).parent)
            except OSError as full:
                raise RecordError(f"{exc} ({full.filename}: {NO_SPACE})") from None
            raise
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


def no_space(path: Path) -> None:
    """Raise ``OSError(ENOSPC)`` naming ``path`` when its filesystem has no space left."""
    try:
        st = os.statvfs(path)
    except OSError:
        return  # not there yet: the unit's directory is made next, and says why it cannot be
    free = st.f_bfree if os.geteuid() == 0 else st.f_bavail  # root may use reserved blocks
    if free == 0 and st.f_blocks > 0:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


class _Log:
    """The unit's output: written to its ``pytest.log`` as it comes, the last 64 KiB kept in
    memory; a write that fails stops the file (:attr:`error` says why), never the unit."""

    KEEP = 64 * 1024

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh = open(path, "wb")  # noqa: SIM115 - closed by __exit__
        self.error: str | None = None
        self._tail = bytearray()

    def pump(self, fd: int) -> None:
        """Copy what the unit wrote to ``fd`` (non-blocking) so far."""
        while True:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return
            if not data:
                return
            self._tail += data
            del self._tail[:-self.KEEP]
            if self.error is None:
                try:
                    self.fh.write(data)
                    self.fh.flush()
                except OSError as exc:
                    why = NO_SPACE if disk_full(exc) is not None else (exc.strerror or exc)
                    self.error = f"{self.path} not written whole: {why}"

    def tail(self) -> str:
        return self._tail.decode("utf-8", "replace")

    def where(self) -> str:
        """Where to read the unit's output; when the log could not be written, its last
        lines."""
        if self.error is None:
            return f"log: {self.path}"
        last = [ln.split(RESULT_LINE)[0] for ln in self.tail().splitlines()]
        last = [ln for ln in last if ln.strip()][-5:]
        return self.error + ("; last lines: " + " | ".join(last) if last else "")

    def __enter__(self) -> _Log:
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.fh.close()
        except OSError as err:
            if self.error is None:
                why = NO_SPACE if disk_full(err) is not None else (err.strerror or err)
                self.error = f"{self.path} not written whole: {why}"


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
