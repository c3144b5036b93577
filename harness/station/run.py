"""A unit's run inside pytest: the plugin object that writes the record as the run goes.

Registered by :mod:`harness.station.pytest_plugin` when ``--serial`` is given. Each test
attempt is a step row (numbered per test: a rerun is a new row), each measurement a row committed
when taken, each DUT its firmware hash and the version read back. At the end, one ``run_ends``
row; a run killed before it reads as ``aborted``. Progress lines (JSON) and the result go to the
run's results directory, for the station to follow.

A run whose record or results can no longer be written is *lost*: the record store did not come
back in time (see :mod:`harness.station.recorder`), or the results disk is full (a write of the
record, the progress, a DUT log or the JUnit XML failed with "no space left on device"). The
test that met it errors with the reason, every later test errors at setup without running, the
run ends ``error`` with that reason (in ``result.json``, on the terminal, and in ``run_ends``
when the store still takes it), and every row written before stays. When ``result.json``
cannot be written, the result goes to stderr as one line starting with :data:`RESULT_LINE`,
which the station reads from the unit's output.

A run that is *stopped* ends ``aborted`` with the reason, recorded: SIGTERM or SIGINT (Ctrl-C)
interrupts the test under way (pytest ends the session as interrupted, fixtures are torn down,
the chips closed), the interrupted test's step ends ``aborted`` and the run's end says why —
"SIGTERM from the operator", "station stopped: ..." when the station stopped its units (it
writes its reason to :data:`STOP_FILE` before it signals), or "the station (pid N) died" when
the unit's parent-death signal came. A signal arriving while a record row is being written
waits for that row. A run that does not end within a grace (:data:`STOP_GRACE` s, times the run's
factor and the machine's load) after the signal records its end from a watchdog and exits.
A unit whose station died writes its further output to ``pytest.log`` itself (the station's
pipe has no reader any more).
"""

from __future__ import annotations

import errno
import json
import math
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest

from ..errors import HarnessError

if TYPE_CHECKING:
    from .recorder import Recorder

_STEP = pytest.StashKey[int]()
RESULT_LINE = "harness-station-result:"
T = TypeVar("T")

STOP_FILE = "stop-reason.txt"  # in a unit's results dir: why the station stopped it
ENV_STATION_PID = "HARNESS_STATION_PID"  # set by the station for its units: its own pid
STOP_GRACE = 10.0  # s (times the run's factor and the load) a stopped run has to end
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def signal_reason(signum: int) -> str:
    """A stop signal in an operator's words."""
    if signum == signal.SIGINT:
        return "SIGINT (Ctrl-C) from the operator"
    return f"{signal.Signals(signum).name} from the operator"


class StopRequested(KeyboardInterrupt):
    """A stop signal came: pytest ends the session as interrupted (a KeyboardInterrupt), the
    run is recorded ``aborted`` with this reason."""


def _results(config: pytest.Config) -> Path:
    from ..plugin import settings

    return settings(config).results


def write_json(path: Path, data: dict) -> None:
    """Written whole or not at all (a reader never sees half a file)."""
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


_FULL = (errno.ENOSPC, errno.EDQUOT)
NO_SPACE = os.strerror(errno.ENOSPC).lower()  # "no space left on device"


def disk_full(exc: BaseException | None) -> str | None:
    """What ran out of space, when ``exc`` (or an exception behind it) says a disk is full:
    the file when the error names one, else ''; None when it is another error."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _FULL:
            return str(exc.filename or "")
        if NO_SPACE in str(exc).lower():
            return ""
        exc = exc.__cause__ or exc.__context__
    return None


def db_wait(config: pytest.Config) -> float:
    """How long a record write waits for a store that went away: ``--db-wait`` or
    ``$HARNESS_DB_WAIT`` in seconds as given, else 30 s times the run's timeout factor."""
    from ..plugin import settings
    from .recorder import DEFAULT_WAIT, ENV_WAIT

    given = config.getoption("db_wait", None) or os.environ.get(ENV_WAIT)
    if given in (None, ""):
        return DEFAULT_WAIT * settings(config).timeout_factor
    try:
        seconds = float(given)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise HarnessError(f"{ENV_WAIT}={given!r}: give the seconds to wait for the record "
                           f"store, greater than 0")
    return seconds


class StationRun:
    def __init__(self, config: pytest.Config, opening: Future | None = None) -> None:
        self.config = config
        self._opening = opening
        self._recorder: Recorder | None = None
        self.lost: str | None = None  # why this run's record or results cannot be written
        self._unopened: str | None = None  # why the record store could not be opened
        self.results = _results(config)
        self.progress = self.results / "progress.jsonl"
        self.counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0, "flaky": 0,
                       "aborted": 0}
        self._instruments: set[tuple[str, str]] = set()
        self._current: dict[str, int | None] = {}
        self._t0 = time.monotonic()
        # stopping (see the module's doc)
        self.stopped: str | None = None  # why the run was stopped (a signal)
        self._interruptible = True  # False once the session finishes: its end is written whole
        self._writing = 0  # record writes under way in the main thread
        self._pending = False  # a stop came during a write: raised when it is done
        self._handlers: dict[int, object] = {}
        self._station_pid = os.environ.pop(ENV_STATION_PID, None)  # not for our children
        self._pipe: str | None = None  # the station's pipe our stdout/stderr go to
        self._closing = threading.Lock()
        self._closed = False
        try:
            self.results.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._lose(self._full(str(self.results)) if disk_full(exc) is not None
                       else f"{self.results}: {exc.strerror or exc}")

    @property
    def recorder(self) -> Recorder:
        """The run's writer; opened in the background while pytest collects and boots.
        Raises :class:`~harness.station.records.RecordError` when it could not be opened."""
        from .records import RecordError

        if self._recorder is None:
            if self._unopened is None:
                assert self._opening is not None
                try:
                    self._recorder = self._opening.result()
                except HarnessError as exc:
                    self._unopened = str(exc) if isinstance(exc, RecordError) \
                        else f"record store: {exc}"
                    self._lose(self._unopened)
                else:
                    self._emit({"event": "run", "run_id": self._recorder.run_id,
                                "serial": self._recorder.info.serial})
            if self._recorder is None:
                raise RecordError(self._unopened or "record store not open")
        return self._recorder

    def _record(self, write: Callable[[Recorder], T]) -> T:
        """``write`` with the run's writer; a failure loses the run and is raised."""
        from .records import RecordError

        __tracebackhide__ = True  # the reason says it all; the writer's insides do not help
        main = threading.current_thread() is threading.main_thread()
        if main:
            self._writing += 1  # a stop signal now waits for this row (see _checkpoint)
        try:
            return write(self.recorder)
        except RecordError as exc:
            self._lose(str(exc))
            raise RecordError(str(exc)) from None
        except OSError as exc:  # a file the record names (an attachment) could not be read
            full = disk_full(exc)
            self._lose(self._full(full) if full is not None else f"recording failed: {exc}")
            raise
        finally:
            if main:
                self._writing -= 1

    # -- stopping ----------------------------------------------------------------------------
    def _catch_signals(self) -> None:
        """SIGTERM and SIGINT stop the run (see the module's doc); only in the main thread."""
        if threading.current_thread() is not threading.main_thread():
            return
        if self._station_pid is not None and str(os.getppid()) != self._station_pid:
            # the station died before the parent-death signal was set (a race of the start)
            raise HarnessError(f"the station (pid {self._station_pid}) that started this unit "
                               f"is gone: not testing")
        try:
            link = os.readlink("/proc/self/fd/1")
        except OSError:
            link = ""
        self._pipe = link if link.startswith("pipe:") else None
        for sig in STOP_SIGNALS:
            if signal.getsignal(sig) != signal.SIG_IGN:  # ignored on purpose (nohup, &): kept
                self._handlers[sig] = signal.signal(sig, self._on_signal)

    def _release_signals(self) -> None:
        for sig, old in self._handlers.items():
            signal.signal(sig, old)  # type: ignore[arg-type]
        self._handlers.clear()

    def _on_signal(self, signum: int, frame) -> None:
        first = self.stopped is None
        if first:
            self.stopped = self._why(signum)
            self._emit({"event": "stopping", "reason": self.stopped})
            grace = _grace()
            threading.Thread(target=self._watchdog, args=(grace,), daemon=True,
                             name="harness-stop-watchdog").start()
        if not first or not self._interruptible:
            return  # the first signal interrupts; the end being written is written whole
        if self._writing:
            self._pending = True  # a record row is being written: it is finished first
            return
        raise StopRequested(self.stopped)

    def _checkpoint(self) -> None:
        """Raise the stop that came while a record row was being written, now it is."""
        if self._pending and not self._writing and self._interruptible \
                and threading.current_thread() is threading.main_thread():
            self._pending = False
            raise StopRequested(self.stopped or "stopped")

    def _why(self, signum: int) -> str:
        try:
            said = (self.results / STOP_FILE).read_text(errors="replace").strip()
        except OSError:
            said = ""
        if said:  # a stop of this unit alone (the panel's abort) says so itself
            return said if said.startswith("aborted by ") else f"station stopped: {said}"
        if self._station_pid is not None and self._station_died():
            self._detach_output()
            return f"the station (pid {self._station_pid}) died"
        return signal_reason(signum)

    def _station_died(self) -> bool:
        """Whether the station that started this unit died (the signal was its parent-death
        signal), rather than someone signalling the unit while the station lives. The signal
        comes as the station's threads die, maybe before the process is gone: watch it for a
        moment (a station that stops a unit itself says why first, in :data:`STOP_FILE`)."""
        from .. import patience

        deadline = time.monotonic() + patience.scaled(1.0)
        while True:
            if str(os.getppid()) != self._station_pid:
                return True  # reparented: the station is gone
            try:
                stat = Path(f"/proc/{self._station_pid}/stat").read_text()
            except OSError:
                return True
            if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                return True  # dead, not yet reaped
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)

    def _detach_output(self) -> None:
        """The station died: the pipe it read our output from has no reader, and a write to it
        would fail. Every descriptor on that pipe (pytest's saved copies too) now appends to
        the unit's ``pytest.log``."""
        if self._pipe is None:
            return
        try:
            fd = os.open(self.results / "pytest.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                         0o644)
        except OSError:
            fd = os.open(os.devnull, os.O_WRONLY)
        try:
            for name in os.listdir("/proc/self/fd"):
                try:
                    if os.readlink(f"/proc/self/fd/{name}") == self._pipe:
                        os.dup2(fd, int(name))
                except OSError:
                    continue
        finally:
            os.close(fd)

    def _watchdog(self, grace: float) -> None:
        """A stopped run that has not ended after ``grace`` s: its end is recorded from here,
        its chips are stopped, and the process exits."""
        time.sleep(grace)
        if not self._closing.acquire(timeout=grace):
            os._exit(int(pytest.ExitCode.INTERRUPTED))  # the end is being written, stuck
        self._closing.release()
        if not self._closed:
            self.stopped = f"{self.stopped}; the run did not end within {grace:.0f} s"
            self._end(pytest.ExitCode.INTERRUPTED)
        from .. import reaper

        for proc in reaper.live():
            try:
                proc.kill()
            except OSError:
                pass
        os._exit(int(pytest.ExitCode.INTERRUPTED))

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self._release_signals()
        if not self._closed and self._opening is not None:
            # the session never started (an interrupt while pytest configured): the run the
            # store may already hold still ends
            self._end(pytest.ExitCode.INTERRUPTED if self.stopped
                      else pytest.ExitCode.INTERNAL_ERROR)

    def _full(self, path: str) -> str:
        return f"results disk full: {path or self.results}: {NO_SPACE}"

    def _lose(self, why: str) -> None:
        """The run can no longer be recorded whole: it ends as an error with ``why``."""
        if self.lost is None:
            self.lost = why
            self._emit({"event": "lost", "reason": why})

    @classmethod
    def begin(cls, config: pytest.Config, url: str, product, limits) -> StationRun:
        target = (config.getoption("target") or [None])[0]
        info = dict(
            serial=config.getoption("serial"),
            product=product.name if product else (target or "unknown"),
            part_number=product.part_number if product else "unknown",
            station=config.getoption("station") or socket.gethostname(),
            slot=config.getoption("slot") or 1,
            operator=config.getoption("operator"),
            limits=limits)
        try:
            info["serial"].encode("utf-8")
        except UnicodeEncodeError:
            raise HarnessError(f"--serial {info['serial']!r}: not valid UTF-8") from None
        from ..plugin import settings

        root = settings(config).root
        wait = db_wait(config)
        box: list[StationRun] = []

        def waiting(what: str, why: str) -> None:
            if box:
                box[0]._emit({"event": "store-wait", "what": what, "error": why,
                              "seconds": wait})

        def opening() -> Recorder:
            # importing SQLAlchemy, opening the store and asking git cost ~0.2 s: done in the
            # background while pytest collects and the first chip boots
            from .recorder import Recorder, RunInfo, harness_git, open_waiting

            engine = open_waiting(url, wait, waiting)
            return Recorder.start(engine, RunInfo(**info), harness_git(root), wait=wait,
                                  on_wait=waiting)

        run = cls(config)
        box.append(run)
        run._catch_signals()  # before the run exists in the store: a stop then records its end
        pool = ThreadPoolExecutor(1, thread_name_prefix="harness-records")
        run._opening = pool.submit(opening)
        pool.shutdown(wait=False)
        return run

    def _emit(self, event: dict) -> None:
        try:
            with self.progress.open("a") as fh:
                fh.write(json.dumps(event) + "\n")
        except OSError as exc:
            full = disk_full(exc)
            self._lose(self._full(str(self.progress)) if full is not None
                       else f"{self.progress}: {exc.strerror or exc}")

    # -- steps -------------------------------------------------------------------------------
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._emit({"event": "collected", "total": len(session.items)})

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem):
        from .records import RecordError

        step: int | None = None
        try:
            step = self._record(lambda rec: rec.start_step(item.nodeid))
        except (RecordError, OSError):
            pass  # lost: the test errors at setup (pytest_runtest_setup) without running
        else:
            item.stash[_STEP] = step
        self._current[item.nodeid] = step
        self._emit({"event": "step", "nodeid": item.nodeid, "name": item.name})
        try:
            self._checkpoint()
            return (yield)
        except KeyboardInterrupt:
            # stopped (or interrupted) in this test: its step ends aborted, saying why
            self._outcomes[item.nodeid] = "aborted"
            self._messages[item.nodeid] = self.stopped or "interrupted (KeyboardInterrupt)"
            raise
        finally:
            # a retried test's last attempt is a later step (pytest_harness_retry)
            self._finish_step(item, self._current.get(item.nodeid, step))
            self._checkpoint()

    def pytest_harness_retry(self, item: pytest.Item, attempt: int, reports) -> None:
        """``--retry`` runs a failed test again: the failed attempt's step ends here (failed or
        error, with its failure) and the next attempt is a step of its own, numbered after it."""
        from .records import RecordError

        self._finish_step(item, self._current.get(item.nodeid), final=False)
        step: int | None = None
        try:
            step = self._record(lambda rec: rec.start_step(item.nodeid))
        except (RecordError, OSError):
            pass  # lost: the run ends as an error saying why
        else:
            item.stash[_STEP] = step
        self._current[item.nodeid] = step
        self._checkpoint()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if self.lost is not None:
            pytest.fail(f"not tested: {self.lost}", pytrace=False)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        if report.failed and call.excinfo is not None and self.lost is None:
            full = disk_full(call.excinfo.value)  # a DUT log, a console log, a kept QEMU log
            if full is not None:
                self._lose(self._full(full))
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.nodeid not in self._current:
            return
        item_outcome = self._outcomes.setdefault(report.nodeid, "passed")
        new = item_outcome
        if report.skipped and report.when in ("setup", "call") and item_outcome == "passed":
            new = "skipped"
        elif report.when == "call" and getattr(report, "harness_flaky", False):
            new = "flaky"  # passed after failed attempts (--retry): those are earlier steps
        elif report.failed or report.outcome == "rerun":  # rerun: a failed attempt, retried
            if report.when == "call" and not getattr(report, "harness_error", False):
                new = "failed" if item_outcome != "error" else "error"
            else:
                new = "error" if item_outcome != "failed" else "failed"
            self._messages[report.nodeid] = str(report.longreprtext)[-4000:]
        self._outcomes[report.nodeid] = new

    _outcomes: dict[str, str]
    _messages: dict[str, str]

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self._outcomes, self._messages = {}, {}

    def _finish_step(self, item: pytest.Item, step: int | None, final: bool = True) -> None:
        """End a test attempt's step; ``final``: the test's last attempt, which counts."""
        from .records import RecordError

        outcome = self._outcomes.pop(item.nodeid, "passed")
        message = self._messages.pop(item.nodeid, "")
        if final:
            self.counts[outcome] += 1
        self._current.pop(item.nodeid, None)
        if step is not None:
            seen: dict[str, str] = {}
            files: list[tuple[str, Path]] = []
            for name, value in item.user_properties:
                name, value = str(name), str(value)
                if name.startswith("instrument.") and (name, value) not in self._instruments:
                    self._instruments.add((name, value))
                    seen[name[len("instrument."):]] = value
                elif name == "log_dir" and Path(value).is_dir():
                    files += [(f.name, f) for f in sorted(Path(value).iterdir()) if f.is_file()]
            try:
                self._record(lambda rec: rec.end_step(step, outcome, message, instruments=seen,
                                                      files=files))
            except (RecordError, OSError):
                pass  # lost: the run ends as an error saying why
        self._emit({"event": "test" if final else "attempt", "nodeid": item.nodeid,
                    "outcome": outcome})

    # -- what tests record -------------------------------------------------------------------
    def measurement(self, item: pytest.Item, verdict, limits_sha256: str) -> None:
        self._record(lambda rec: rec.measurement(item.stash.get(_STEP, None), verdict,
                                                 limits_sha256))
        lim = verdict.limit
        number = float(verdict.value)
        value: float | str = number if math.isfinite(number) else repr(number)  # not JSON
        self._emit({"event": "measurement", "nodeid": item.nodeid, "name": lim.name,
                    "value": value, "unit": lim.unit, "low": lim.low, "high": lim.high,
                    "outcome": verdict.outcome})
        self._checkpoint()

    def pytest_harness_dut_ready(self, dut, slot: int, item) -> None:
        self._record(lambda rec: rec.dut(
            item.stash.get(_STEP, None), name=dut.name, target=dut.target.name,
            world=dut.world, firmware_path=str(dut.image.path),
            firmware_sha256=dut.image.sha256, firmware_version=dut.identity))
        self._checkpoint()

    def pytest_harness_dut_done(self, dut, slot: int, item) -> None:
        """A DUT's console log that could not be written whole makes the run an error."""
        for con in dut.consoles.values():
            broken = getattr(con.log, "error", None)  # "<path>: <why>", set when a write failed
            if broken and self.lost is None:
                path, _, why = str(broken).rpartition(": ")
                self._lose(self._full(path) if NO_SPACE in why.lower()
                           else f"console log not written: {broken}")

    # -- the end -----------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int):
        """After the other plugins (JUnit XML, fixture teardown, the harness closing its
        chips): a report that could not be written is part of the run's verdict. A stop
        signal from here on no longer interrupts: the end is written whole."""
        self._interruptible = False
        try:
            yield
        except OSError as exc:
            full = disk_full(exc)
            if full is not None:
                xml = getattr(self.config.option, "xmlpath", None)
                self._lose(self._full(full or xml or ""))
            elif self.stopped is None:
                self._lose(f"ending the session failed: {exc}")
                self._end(session.exitstatus)
                raise
            # else: stopped, and the station's pipe broke under the terminal's last lines
            # the plugins after the one that failed did not run: close the harness's chips
            from .. import reaper
            from ..plugin import manager

            manager(session.config).close_all()
            for proc in reaper.live():
                reaper.stop(proc, grace=0.2)
        except BaseException as exc:
            self._lose(f"ending the session failed: {type(exc).__name__}: {exc}")
            self._end(session.exitstatus)
            raise
        self._end(session.exitstatus)
        if self.lost is not None and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _end(self, exitstatus: int) -> None:
        """The run's end: ``result.json``, the record's end and the last progress line; once
        (from the session's end, or from the watchdog of a run that did not stop)."""
        with self._closing:
            if self._closed:
                return
            self._closed = True
            self._write_end(exitstatus)

    def _write_end(self, exitstatus: int) -> None:
        from .records import RecordError

        c = self.counts
        tests = sum(c.values())
        if self.lost is not None:
            outcome = "error"
        elif self.stopped is not None and exitstatus not in (pytest.ExitCode.OK,
                                                             pytest.ExitCode.TESTS_FAILED):
            outcome = "aborted"  # stopped before every test had its verdict
        elif exitstatus == pytest.ExitCode.INTERRUPTED:
            outcome = "aborted"
        elif c["failed"]:
            outcome = "fail"
        elif c["error"] or exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            outcome = "error"
        elif c["passed"] + c["flaky"] == 0:
            outcome = "error"  # nothing was tested: no verdict on the unit
        else:
            outcome = "pass"
        # result.json first: a results disk that cannot take it makes the run an error,
        # and the record's end must say so too
        written = self._write_result(outcome)
        if not written:
            outcome = "error"
        said = self.lost
        why = self._reason(outcome)
        extra = {"reason": why} if why and _takes_reason() else {}
        try:
            self._record(lambda rec: rec.end(outcome, tests=tests, failed=c["failed"],
                                             errors=c["error"], **extra))
        except (RecordError, OSError):
            outcome = "error"  # the store said why (self.lost)
        if (not written or self.lost != said) and not self._write_result(outcome):
            # the station reads this line from the unit's output instead
            line = json.dumps(self._result(outcome), sort_keys=True)
            sys.stderr.write(f"\n{RESULT_LINE} {line}\n")
            sys.stderr.flush()
        if self.lost is not None:
            self._say(f"station run ERROR: {self.lost}")
        elif outcome == "aborted":
            self._say(f"station run ABORTED: {self._reason(outcome)}")
        self._emit({"event": "end", **self._result(outcome)})

    def _reason(self, outcome: str) -> str:
        if self.lost is not None:
            return self.lost
        if outcome == "aborted":
            return self.stopped or "interrupted (KeyboardInterrupt)"
        return ""

    def _result(self, outcome: str) -> dict:
        rec = self._recorder
        return {"run_id": rec.run_id if rec else None,
                "serial": rec.info.serial if rec else self.config.getoption("serial"),
                "outcome": outcome, **self.counts, "seconds": time.monotonic() - self._t0,
                "reason": self._reason(outcome)}

    def _write_result(self, outcome: str) -> bool:
        path = self.results / "result.json"
        try:
            write_json(path, self._result(outcome))
        except OSError as exc:
            full = disk_full(exc)
            self._lose(self._full(str(path)) if full is not None
                       else f"{path}: {exc.strerror or exc}")
            return False
        return True

    def _say(self, line: str) -> None:
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        try:
            if tr is not None:
                tr.write_line(line, red=True, bold=True)
            else:
                sys.stderr.write(line + "\n")
        except OSError:
            pass  # the terminal is a file on the full disk: the result line still says it

    # -- operator prompts --------------------------------------------------------------------
    def prompt_event(self, item: pytest.Item, event: dict) -> None:
        """A prompt of the ``operator`` fixture asked or closed, for the station (progress)."""
        self._emit({**event, "nodeid": item.nodeid})

    def prompt(self, item: pytest.Item, **row) -> None:
        """Record a prompt of the ``operator`` fixture and its answer (``prompts``)."""
        self._record(lambda rec: rec.prompt(item.stash.get(_STEP, None), **row))
        self._checkpoint()


def _grace() -> float:
    """:data:`STOP_GRACE` times the run's factor, scaled by the machine's load now."""
    from .. import patience

    try:
        return patience.limit(STOP_GRACE)
    except ValueError:  # a malformed factor in the environment: the base, unscaled
        return STOP_GRACE


def _takes_reason() -> bool:
    """Whether this harness's :meth:`Recorder.end` stores a reason (``reason=``)."""
    import inspect

    from .recorder import Recorder

    return "reason" in inspect.signature(Recorder.end).parameters
