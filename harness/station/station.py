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

Stopping (:class:`Stop`, set by the CLI's SIGTERM/SIGINT handlers): no further unit starts;
each running unit is told why (``stop-reason.txt`` in its results directory) and gets SIGTERM,
records its end as ``aborted`` with that reason and exits; one that has not ended after a
grace is killed. Units run in sessions of their own (a terminal's Ctrl-C reaches the station
only, which stops them as above) and get SIGTERM from the kernel when the station dies, even
by SIGKILL (``setpriv --pdeathsig TERM``): they record ``aborted`` ("the station (pid N)
died") and exit instead of testing on unsupervised. At start, runs whose process died without
an end (a unit SIGKILLed) are closed as lost, when the harness has the means
(``integrity.close_lost_runs``).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import queue
import shutil
import signal
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
from .prompts import ENV_PROMPTS
from .run import (
    ENV_STATION_PID,
    NO_SPACE,
    RESULT_LINE,
    STOP_FILE,
    STOP_GRACE,
    disk_full,
    signal_reason,
)
from .serials import dir_name
from .stats import first_pass_yield

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
    # serial → outcome of its first run in the record store (any station, any day; a run
    # killed before its end counts as aborted); serials not in it: their first attempt here
    first: dict[str, str] = field(default_factory=dict)
    stopped: str = ""  # why the station stopped before its list was done
    untested: list[str] = field(default_factory=list)  # serials not started because of it

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

    def first_outcome(self, serial: str) -> str:
        """The outcome of the serial number's first attempt: its first run in the records,
        else its first attempt here."""
        if serial in self.first:
            return self.first[serial]
        return min((r for r in self.results if r.serial == serial),
                   key=lambda r: r.attempt).outcome

    @property
    def first_pass_yield(self) -> float:
        """Units whose first attempt ever (aborted and errored ones included) passed, over
        the units tested."""
        passed, n = first_pass_yield({sn: self.first_outcome(sn) for sn in self.final()})
        return passed / n if n else 0.0

    @property
    def units_per_hour(self) -> float:
        return self.units * 3600.0 / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        if self.count("fail"):
            return 1
        if self.count("error") or self.count("aborted") or self.refused or self.stopped:
            return 2
        return 0


class Stop:
    """A request to stop the station, with its reason; the first one counts."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.signum: int | None = None
        self._event = threading.Event()

    def request(self, reason: str, signum: int | None = None) -> None:
        if self.reason is None:
            self.reason, self.signum = reason, signum
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a stop is requested or ``timeout``; whether it was."""
        return self._event.wait(timeout)

    @contextlib.contextmanager
    def on_signals(self):
        """SIGTERM and SIGINT request a stop (no KeyboardInterrupt) while inside; the
        previous handlers come back after. In the main thread only."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        old = {sig: signal.signal(sig, lambda signum, _frame: self.request(
            signal_reason(signum), signum)) for sig in (signal.SIGTERM, signal.SIGINT)
            if signal.getsignal(sig) != signal.SIG_IGN}  # ignored on purpose: kept ignored
        try:
            yield self
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)


def dying_with_station(argv: list[str]) -> list[str]:
    """``argv`` started so that the kernel sends it SIGTERM when the station thread that
    started it dies (the station killed, even by SIGKILL): util-linux's ``setpriv
    --pdeathsig``. SIGTERM, not SIGKILL: the unit records its end as aborted and stops its
    chips (see :mod:`harness.station.run`)."""
    setpriv = shutil.which("setpriv") if sys.platform == "linux" else None
    return [setpriv, "--pdeathsig", "TERM", "--", *argv] if setpriv else list(argv)


def stop_grace() -> float:
    """How long a stopped unit has to end before it is killed: its own grace
    (:data:`~harness.station.run.STOP_GRACE`, after which it records its end itself) twice
    over, plus a process's exit."""
    from .. import patience

    try:
        return 2 * patience.limit(STOP_GRACE) + patience.limit("process_exit")
    except ValueError:
        return 2 * STOP_GRACE + patience.BASE["process_exit"]


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
    stop: Stop = field(default_factory=Stop)  # set (by a signal handler): stop the line
    prompts: bool = False  # operator prompts of the units are shown (and answered) here

    def command(self, serial: str, slot: int, unit_dir: Path,
                operator: str | None = None) -> list[str]:
        p = self.product
        cmd = [self.python, "-m", "pytest", *p.suite, f"--target={p.target}",
               f"--slot={slot}", f"--serial={serial}", f"--db={self.db}",
               f"--station={self.name}", f"--operator={operator or self.operator}",
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
    def run_unit(self, serial: str, slot: int, attempt: int, abort: Stop | None = None,
                 operator: str | None = None) -> UnitResult:
        """Test one unit on ``slot``. ``abort``: a stop of this unit only (the panel's abort
        button), handled as a stop of the station is: the unit records ``aborted`` with the
        reason. ``operator``: who tests it, when not the station's operator."""
        stop = _Either(self.stop, abort) if abort is not None else self.stop
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
        env[ENV_STATION_PID] = str(os.getpid())
        if self.prompts:
            env[ENV_PROMPTS] = "1"
        else:
            env.pop(ENV_PROMPTS, None)
        if self.db_wait is not None:
            from .recorder import ENV_WAIT

            env[ENV_WAIT] = repr(self.db_wait)
        killed: str | None = None
        with log:
            # a session of its own: a terminal's Ctrl-C reaches the station, which stops the
            # unit saying why (and its chips are not signalled under it)
            proc = subprocess.Popen(dying_with_station(self.command(serial, slot, d, operator)),
                                    cwd=self.product.root, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
            assert proc.stdout is not None
            os.set_blocking(proc.stdout.fileno(), False)
            follower = _Follower(d / "progress.jsonl",
                                 lambda ev: self.listener("progress", {"slot": slot, **ev}))
            stopping: float | None = None  # when the unit was told to stop
            grace = 0.0
            try:
                while True:
                    try:
                        proc.wait(timeout=0.02)  # returns the moment the unit's pytest ends
                        break
                    except subprocess.TimeoutExpired:
                        log.pump(proc.stdout.fileno())
                        follower.poll()
                    if stopping is None and stop.is_set():
                        stopping, grace = time.monotonic(), stop_grace()
                        _tell_stop(proc, d, stop.reason or "stopped")
                    elif stopping is not None and time.monotonic() - stopping > grace:
                        killed = f"killed: it did not end within {grace:.0f} s of SIGTERM"
                        proc.kill()
                        proc.wait()
                        break
                log.pump(proc.stdout.fileno())
                follower.poll()
            finally:
                if proc.poll() is None:  # only if the station itself is failing
                    _tell_stop(proc, d, "the station failed")
                    try:
                        proc.wait(stop_grace())
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
                proc.stdout.close()
        res = UnitResult(serial, slot, attempt, "error", time.monotonic() - t0, d,
                         proc.returncode)
        data = self._result(d, log)
        if data is None and stop.is_set():
            res.outcome = "aborted"  # stopped before its run recorded a result
            res.reason = "; ".join(r for r in (
                f"station stopped: {stop.reason}" if stop is self.stop else str(stop.reason),
                killed,
                f"pytest exited {proc.returncode} without a result") if r)
        elif data is None:
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
    @contextlib.contextmanager
    def prepared(self):
        """The line ready to test: results disk and record store checked (the schema made
        before slots race to make it), runs lost by an earlier station closed, the bench slots
        leased until the end of the ``with``."""
        from sqlalchemy.engine import make_url

        from .records import RecordError, open_store

        try:
            no_space(self.results)
        except OSError:
            raise HarnessError(f"results directory {self.results}: {NO_SPACE}") from None
        try:
            engine = open_store(self.db)
        except RecordError as exc:
            db = make_url(self.db).database if self.db.startswith("sqlite") else None
            try:
                if db:
                    no_space(Path(db).parent)
            except OSError as full:
                raise RecordError(f"{exc} ({full.filename}: {NO_SPACE})") from None
            raise
        try:
            closed = _close_lost_runs(engine)
        finally:
            engine.dispose()
        if closed:
            self.listener("lost-runs", {"runs": closed})
        with contextlib.ExitStack() as stack:
            self._lease_slots(stack)
            yield self

    def run(self, serials: list[str], refused: list | None = None) -> Summary:
        with self.prepared():
            return self._run(serials, refused)

    def _run(self, serials: list[str], refused: list | None) -> Summary:
        todo: queue.Queue = queue.Queue()
        for s in serials:
            todo.put((s, 1))
        results: list[UnitResult] = []
        lock = threading.Lock()
        t0 = time.monotonic()

        running: set[int] = set()

        def worker(slot: int) -> None:
            while not self.stop.is_set():
                try:
                    serial, attempt = todo.get_nowait()
                except queue.Empty:
                    return
                with lock:
                    running.add(slot)
                try:
                    res = self.run_unit(serial, slot, attempt)
                finally:
                    with lock:
                        running.discard(slot)
                with lock:
                    results.append(res)
                if res.outcome in ("error", "aborted") and attempt <= self.retries \
                        and not self.stop.is_set():
                    todo.put((serial, attempt + 1))

        threads = [threading.Thread(target=worker, args=(s,), name=f"slot{s}", daemon=True)
                   for s in self.slots]
        for t in threads:
            t.start()
        told = False
        for t in threads:
            while t.is_alive():
                t.join(0.1)
                if self.stop.is_set() and not told:
                    told = True
                    with lock:
                        busy = sorted(running)
                    self.listener("stopping", {"reason": self.stop.reason, "slots": busy,
                                               "grace": stop_grace()})
        tested = {r.serial for r in results}
        untested = []
        while not todo.empty():
            serial, _ = todo.get_nowait()
            if serial not in tested:
                untested.append(serial)
        return Summary(results, refused or [], time.monotonic() - t0,
                       first=self.first_outcomes(sorted(tested)),
                       stopped=self.stop.reason or "", untested=untested)

    def first_outcomes(self, serials: list[str]) -> dict[str, str]:
        """Serial → the outcome of its first run in the record store (``{}`` when the store
        cannot be read now: the summary then counts first attempts here)."""
        from sqlalchemy import select
        from sqlalchemy.exc import SQLAlchemyError

        from . import records as R
        from .stats import first_outcomes

        if not serials:
            return {}
        try:
            engine = R.make_engine(self.db)
        except HarnessError:
            return {}
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(R.runs.c.serial, R.runs.c.id, R.run_ends.c.outcome)
                    .select_from(R.runs.outerjoin(R.run_ends, R.run_ends.c.run_id == R.runs.c.id))
                    .where(R.runs.c.serial.in_(serials))).all()
        except SQLAlchemyError:
            return {}
        finally:
            engine.dispose()
        return first_outcomes((sn, run_id, outcome) for sn, run_id, outcome in rows)

    def _lease_slots(self, stack: contextlib.ExitStack) -> None:
        from ..bench import lease

        bench = self.bench.stem if self.bench else "default"
        for s in self.slots:
            stack.enter_context(lease(f"station-slot-{bench}-{s}"))


class _Either:
    """Two stops as one: set when either is (the station's first: its reason counts)."""

    def __init__(self, first: Stop, second: Stop) -> None:
        self.first, self.second = first, second

    def is_set(self) -> bool:
        return self.first.is_set() or self.second.is_set()

    @property
    def reason(self) -> str | None:
        return self.first.reason if self.first.is_set() else self.second.reason


def _tell_stop(proc: subprocess.Popen, unit_dir: Path, reason: str) -> None:
    """Why the unit is stopped (read by its run when the signal comes), then SIGTERM."""
    with contextlib.suppress(OSError):
        _write_whole(unit_dir / STOP_FILE, reason)
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)


def _write_whole(path: Path, text: str) -> None:
    """``text`` into ``path``, whole or not at all."""
    tmp = path.with_suffix(".tmp-stop")
    tmp.write_text(text + "\n")
    tmp.replace(path)


def _close_lost_runs(engine) -> list[int]:
    """Close runs whose owner process died without an end (``aborted (lost)``), when this
    harness has :func:`harness.station.integrity.close_lost_runs`; else nothing."""
    import importlib

    try:
        integrity = importlib.import_module(".integrity", __package__)
    except ImportError:
        return []
    close = getattr(integrity, "close_lost_runs", None)
    return list(close(engine)) if close is not None else []


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
