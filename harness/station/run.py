"""A unit's run inside pytest: the plugin object that writes the record as the run goes.

Registered by :mod:`harness.station.pytest_plugin` when ``--serial`` is given. Each test
attempt is a step row (numbered per test: a rerun is a new row), each measurement a row committed
when taken, each DUT its firmware hash and the version read back. At the end, one ``run_ends``
row; a run killed before it reads as ``aborted``. Progress lines (JSON) and the result go to the
run's results directory, for the station to follow.
"""

from __future__ import annotations

import json
import socket
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ..errors import HarnessError

if TYPE_CHECKING:
    from .recorder import Recorder

_STEP = pytest.StashKey[int]()


def _results(config: pytest.Config) -> Path:
    from ..plugin import settings

    return settings(config).results


def write_json(path: Path, data: dict) -> None:
    """Written whole or not at all (a reader never sees half a file)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)


class StationRun:
    def __init__(self, config: pytest.Config, opening: Future) -> None:
        self.config = config
        self._opening = opening
        self._recorder: Recorder | None = None
        self.results = _results(config)
        self.results.mkdir(parents=True, exist_ok=True)
        self.progress = self.results / "progress.jsonl"
        self.counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
        self._instruments: set[tuple[str, str]] = set()
        self._current: dict[str, int] = {}

    @property
    def recorder(self) -> Recorder:
        """The run's writer; opened in the background while pytest collects and boots."""
        if self._recorder is None:
            try:
                self._recorder = self._opening.result()
            except HarnessError as exc:
                pytest.exit(f"record store: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)
            self._emit({"event": "run", "run_id": self._recorder.run_id,
                        "serial": self._recorder.info.serial})
        return self._recorder

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

        def opening() -> Recorder:
            # importing SQLAlchemy, opening the store and asking git cost ~0.2 s: done in the
            # background while pytest collects and the first chip boots
            from .recorder import Recorder, RunInfo, harness_git
            from .records import open_store

            return Recorder.start(open_store(url), RunInfo(**info), harness_git(root))

        pool = ThreadPoolExecutor(1, thread_name_prefix="harness-records")
        future = pool.submit(opening)
        pool.shutdown(wait=False)
        return cls(config, future)

    def _emit(self, event: dict) -> None:
        with self.progress.open("a") as fh:
            fh.write(json.dumps(event) + "\n")

    # -- steps -------------------------------------------------------------------------------
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._emit({"event": "collected", "total": len(session.items)})

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem):
        step = self.recorder.start_step(item.nodeid)
        item.stash[_STEP] = step
        self._current[item.nodeid] = step
        try:
            return (yield)
        finally:
            self._finish_step(item, step)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        step = self._current.get(report.nodeid)
        if step is None:
            return
        item_outcome = self._outcomes.setdefault(report.nodeid, "passed")
        new = item_outcome
        if report.skipped and report.when in ("setup", "call") and item_outcome == "passed":
            new = "skipped"
        elif report.failed:
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

    def _finish_step(self, item: pytest.Item, step: int) -> None:
        outcome = self._outcomes.pop(item.nodeid, "passed")
        message = self._messages.pop(item.nodeid, "")
        seen: dict[str, str] = {}
        files: list[tuple[str, Path]] = []
        for name, value in item.user_properties:
            name, value = str(name), str(value)
            if name.startswith("instrument.") and (name, value) not in self._instruments:
                self._instruments.add((name, value))
                seen[name[len("instrument."):]] = value
            elif name == "log_dir" and Path(value).is_dir():
                files += [(f.name, f) for f in sorted(Path(value).iterdir()) if f.is_file()]
        self.recorder.end_step(step, outcome, message, instruments=seen, files=files)
        self.counts[outcome] += 1
        self._current.pop(item.nodeid, None)
        self._emit({"event": "test", "nodeid": item.nodeid, "outcome": outcome})

    # -- what tests record -------------------------------------------------------------------
    def measurement(self, item: pytest.Item, verdict, limits_sha256: str) -> None:
        self.recorder.measurement(item.stash.get(_STEP, None), verdict, limits_sha256)

    def pytest_harness_dut_ready(self, dut, slot: int, item) -> None:
        self.recorder.dut(item.stash.get(_STEP, None), name=dut.name, target=dut.target.name,
                          world=dut.world, firmware_path=str(dut.image.path),
                          firmware_sha256=dut.image.sha256,
                          firmware_version=dut.identity)

    # -- the end -----------------------------------------------------------------------------
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        c = self.counts
        tests = sum(c.values())
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            outcome = "aborted"
        elif c["failed"]:
            outcome = "fail"
        elif c["error"] or exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            outcome = "error"
        elif c["passed"] == 0:
            outcome = "error"  # nothing was tested: no verdict on the unit
        else:
            outcome = "pass"
        self.recorder.end(outcome, tests=tests, failed=c["failed"], errors=c["error"])
        result = {"run_id": self.recorder.run_id, "serial": self.recorder.info.serial,
                  "outcome": outcome, **c, "seconds": time.monotonic() - self._t0}

        write_json(self.results / "result.json", result)
        self._emit({"event": "end", **result})
