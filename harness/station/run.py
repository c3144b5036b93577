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
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
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
    def __init__(self, config: pytest.Config, opening: Future) -> None:
        self.config = config
        self._opening = opening
        self._recorder: Recorder | None = None
        self.lost: str | None = None  # why this run's record or results cannot be written
        self._unopened: str | None = None  # why the record store could not be opened
        self.results = _results(config)
        self.progress = self.results / "progress.jsonl"
        self.counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0, "flaky": 0}
        self._instruments: set[tuple[str, str]] = set()
        self._current: dict[str, int | None] = {}
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
        try:
            return write(self.recorder)
        except RecordError as exc:
            self._lose(str(exc))
            raise RecordError(str(exc)) from None
        except OSError as exc:  # a file the record names (an attachment) could not be read
            full = disk_full(exc)
            self._lose(self._full(full) if full is not None else f"recording failed: {exc}")
            raise

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

        pool = ThreadPoolExecutor(1, thread_name_prefix="harness-records")
        future = pool.submit(opening)
        pool.shutdown(wait=False)
        run = cls(config, future)
        box.append(run)
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
        try:
            return (yield)
        finally:
            # a retried test's last attempt is a later step (pytest_harness_retry)
            self._finish_step(item, self._current.get(item.nodeid, step))

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
        self._t0 = time.monotonic()

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

    def pytest_harness_dut_ready(self, dut, slot: int, item) -> None:
        self._record(lambda rec: rec.dut(
            item.stash.get(_STEP, None), name=dut.name, target=dut.target.name,
            world=dut.world, firmware_path=str(dut.image.path),
            firmware_sha256=dut.image.sha256, firmware_version=dut.identity))

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
        chips): a report that could not be written is part of the run's verdict."""
        try:
            yield
        except OSError as exc:
            full = disk_full(exc)
            if full is None:
                raise
            xml = getattr(self.config.option, "xmlpath", None)
            self._lose(self._full(full or xml or ""))
            # the plugins after the one that failed did not run: close the harness's chips
            from .. import reaper
            from ..plugin import manager

            manager(session.config).close_all()
            for proc in reaper.live():
                reaper.stop(proc, grace=0.2)
        self._end(session)

    def _end(self, session: pytest.Session) -> None:
        from .records import RecordError

        c = self.counts
        tests = sum(c.values())
        exitstatus = session.exitstatus
        if self.lost is not None:
            outcome = "error"
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
        try:
            self._record(lambda rec: rec.end(outcome, tests=tests, failed=c["failed"],
                                             errors=c["error"]))
        except (RecordError, OSError):
            outcome = "error"  # the store said why (self.lost)
        if (not written or self.lost != said) and not self._write_result(outcome):
            # the station reads this line from the unit's output instead
            line = json.dumps(self._result(outcome), sort_keys=True)
            sys.stderr.write(f"\n{RESULT_LINE} {line}\n")
            sys.stderr.flush()
        if self.lost is not None:
            self._say(f"station run ERROR: {self.lost}")
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
        self._emit({"event": "end", **self._result(outcome)})

    def _result(self, outcome: str) -> dict:
        rec = self._recorder
        return {"run_id": rec.run_id if rec else None,
                "serial": rec.info.serial if rec else self.config.getoption("serial"),
                "outcome": outcome, **self.counts, "seconds": time.monotonic() - self._t0,
                "reason": self.lost or ""}

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
