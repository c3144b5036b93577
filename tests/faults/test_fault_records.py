"""The record store goes away in the middle of a station run: a real PostgreSQL server (Debian's,
as the station's own tests start it) restarted, or stopped for good, while units are being
tested on emulated chips.

A restart of a few seconds delays the writes of the runs and loses none: every run has its end
row, every measurement a unit's JUnit XML says it took is in the database exactly once, and the
verdicts are pass. A server that stays away longer than the wait (``--db-wait``, here 3 s) ends
the run as an error naming the database (password masked) and the write it was doing, with
every row written before it intact (the unit's suite waits for the server to be gone before its
next measurement: with the chips on chip time a whole suite can end before a server stops).
"""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
from faultkit import ROOT, WAIT
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from harness.station.product import load_product
from harness.station.station import Station
from tests.integration.station.conftest import PgServer, _pg_bin

SUITE = "tests/acceptance/washer/test_measurements.py"
OUTAGE_SUITE = "tests/faults/outage_suite.py"  # its second test measures once the server is gone
BENCH = ROOT / "targets/benches/emulated.yaml"
OUTAGE = 4.0  # s the server is away in the restart test: several writes of every slot wait


class RestartablePg(PgServer):
    """The station tests' throwaway server, which can also be stopped and started again."""

    def down(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t",
                  self.wait(), "stop")

    def up(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"),
                  "-w", "-t", self.wait(), "-o",
                  f"-c listen_addresses='' -k {self.dir} -c fsync=off", "start")


@pytest.fixture(scope="module")
def pg():
    server = RestartablePg()
    server.start()
    yield server
    server.stop()


def now_ms() -> int:
    return int(time.time() * 1000)


def _station(tmp_path: Path, url: str, slots: list[int], listener, suite: str = SUITE,
             **kw) -> Station:
    product = load_product("qsm-washer", ROOT / "targets").model_copy(update={"suite": [suite]})
    return Station(product, slots, url, "db-fault", "tester", tmp_path / "results", BENCH,
                   listener=listener, **kw)


class AfterFirstTest:
    """A station listener that runs ``action`` in a thread of its own once any unit has
    finished its first test (so the runs are in the middle of their tests)."""

    def __init__(self, action) -> None:
        self.events: list[tuple[str, dict]] = []
        self._first = threading.Event()
        self._done = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(action,), daemon=True)
        self._thread.start()

    def __call__(self, event: str, data: dict) -> None:
        self.events.append((event, data))
        if event == "progress" and data.get("event") == "test":
            self._first.set()

    def _run(self, action) -> None:
        try:
            if self._first.wait(WAIT * 5):
                action()
        except BaseException as exc:  # reported by join()
            self.error = exc
        finally:
            self._done.set()

    def join(self) -> None:
        self._first.set()  # a run that ended before any test: let the thread finish
        self._thread.join(WAIT * 2)
        assert not self._thread.is_alive(), "the fault thread did not finish"
        if self.error is not None:
            raise self.error

    def progress(self, kind: str) -> list[dict]:
        return [d for e, d in self.events if e == "progress" and d.get("event") == kind]


def junit_measurements(path: Path) -> Counter:
    """(test name, measurement name, value as written) of every measurement the JUnit XML of
    a unit's run lists."""
    taken: Counter = Counter()
    for case in ET.parse(path).getroot().iter("testcase"):
        for prop in case.iter("property"):
            name = prop.get("name", "")
            if name.startswith("measurement."):
                value_text = prop.get("value", "").split(" ")[0]
                taken[(case.get("name"), name[len("measurement."):], value_text)] += 1
    return taken


def db_measurements(conn, run_id: int) -> Counter:
    rows = conn.execute(text(
        "SELECT s.nodeid, m.name, m.value_text FROM measurements m JOIN steps s "
        "ON s.id = m.step_id WHERE m.run_id = :r"), {"r": run_id}).all()
    return Counter((nodeid.rsplit("::", 1)[-1], name, value) for nodeid, name, value in rows)


def test_a_database_restart_mid_run_delays_writes_and_loses_none(env, pg, tmp_path,
                                                                   monkeypatch):
    url = pg.create_db("restart_mid_run")
    serials = ["W2644000901", "W2644000902", "W2644000903", "W2644000904"]
    monkeypatch.setenv("HARNESS_LEASE_DIR", str(tmp_path / "leases"))
    outage: dict[str, int] = {}

    def restart() -> None:
        outage["down"] = now_ms()
        pg.down()
        time.sleep(OUTAGE)
        pg.up()
        outage["up"] = now_ms()

    fault = AfterFirstTest(restart)
    summary = _station(tmp_path, url, [1, 2], fault).run(serials)
    fault.join()

    assert "up" in outage, "the server was not restarted during the runs"
    assert sorted((r.serial, r.outcome) for r in summary.results) == \
        [(s, "pass") for s in serials], "\n".join(f"{r.serial} {r.outcome}: {r.reason}"
                                                  for r in summary.results)
    waited = fault.progress("store-wait")
    assert waited, "no write met the restart: the fault was not injected mid-run"
    assert all(w["seconds"] == 30.0 for w in waited)  # the default wait, times factor 1

    engine = create_engine(url)
    with engine.connect() as conn:
        runs = conn.execute(text(
            "SELECT r.id, r.serial, r.attempt, r.started_ms, e.ended_ms, e.outcome, e.tests "
            "FROM runs r LEFT JOIN run_ends e ON e.run_id = r.id ORDER BY r.id")).all()
        # every run has its end row, once, with a pass; no run was written twice
        assert sorted(r.serial for r in runs) == serials
        assert all(r.attempt == 1 for r in runs)
        assert [(r.outcome, r.tests) for r in runs] == [("pass", 3)] * len(serials)
        assert conn.execute(text("SELECT count(*) FROM run_ends")).scalar() == len(serials)
        # the restart fell inside the runs: some run started before it and ended after it
        assert any(r.started_ms < outage["down"] and r.ended_ms > outage["up"] for r in runs)
        for run, res in zip(runs, sorted(summary.results, key=lambda r: r.run_id or 0),
                            strict=True):
            assert res.run_id == run.id and res.serial == run.serial
            steps = conn.execute(text(
                "SELECT s.nodeid, s.attempt, e.outcome FROM steps s LEFT JOIN step_ends e "
                "ON e.step_id = s.id WHERE s.run_id = :r ORDER BY s.id"), {"r": run.id}).all()
            assert [(s.attempt, s.outcome) for s in steps] == [(1, "passed")] * 3, steps
            assert len({s.nodeid for s in steps}) == 3
            n_duts = conn.execute(text("SELECT count(*) FROM duts WHERE run_id = :r"),
                                  {"r": run.id}).scalar()
            assert n_duts == 3
            # every measurement the unit's JUnit XML lists is in the database exactly once
            taken = junit_measurements(res.directory / "junit.xml")
            assert sum(taken.values()) == 7 and set(taken.values()) == {1}
            assert db_measurements(conn, run.id) == taken
            outcomes = conn.execute(text("SELECT DISTINCT outcome FROM measurements "
                                         "WHERE run_id = :r"), {"r": run.id}).scalars().all()
            assert outcomes == ["pass"]
        started = conn.execute(text("SELECT extract(epoch FROM pg_postmaster_start_time())"))
        assert float(started.scalar()) * 1000 >= outage["down"]  # the server did restart
    engine.dispose()
    assert env.leaks() == []


def test_a_database_down_past_the_wait_ends_the_run_as_an_error_naming_it(env, pg, tmp_path,
                                                                          monkeypatch):
    url = pg.create_db("down_for_good").replace(f"{pg.role}@", f"{pg.role}:s3cret@")
    monkeypatch.setenv("HARNESS_LEASE_DIR", str(tmp_path / "leases"))
    flag = tmp_path / "server-down"
    monkeypatch.setenv("HARNESS_OUTAGE_FLAG", str(flag))

    def down() -> None:  # the unit's second test measures once this is written
        pg.down()
        flag.touch()

    fault = AfterFirstTest(down)
    try:
        summary = _station(tmp_path, url, [1], fault, suite=OUTAGE_SUITE,
                           db_wait=3.0).run(["W2644000911"])
        fault.join()
    finally:
        if not (pg.data / "postmaster.pid").exists():
            pg.up()

    (res,) = summary.results
    assert res.outcome == "error" and summary.exit_code == 2, res.reason
    shown = make_url(url).render_as_string(hide_password=True)
    assert ":***@" in shown
    assert f"record store {shown} (unreachable for 3 s): " in res.reason, res.reason
    assert "s3cret" not in res.reason
    # the write it was doing, and of which test
    assert f"{OUTAGE_SUITE}::test_after_the_outage[qsm-washer]" in res.reason, res.reason
    assert fault.progress("store-wait")[0]["seconds"] == 3.0

    engine = create_engine(url)
    with engine.connect() as conn:
        (run,) = conn.execute(text("SELECT id, serial FROM runs")).all()
        assert run.id == res.run_id and run.serial == "W2644000911"
        # no end row could be written: the run reads as aborted in the store
        assert conn.execute(text("SELECT count(*) FROM run_ends")).scalar() == 0
        steps = conn.execute(text(
            "SELECT s.id, s.nodeid, e.outcome FROM steps s LEFT JOIN step_ends e "
            "ON e.step_id = s.id ORDER BY s.id")).all()
        # what was written before the server went is intact: the first test, whole
        assert steps[0].nodeid == f"{OUTAGE_SUITE}::test_before_the_outage[qsm-washer]"
        assert steps[0].outcome == "passed"
        taken = junit_measurements(res.directory / "junit.xml")
        first = Counter({k: n for k, n in taken.items()
                         if k[0] == "test_before_the_outage[qsm-washer]"})
        assert sum(first.values()) == 1
        recorded = db_measurements(conn, run.id)
        assert first <= recorded and recorded <= taken  # nothing invented, nothing doubled
    engine.dispose()
    assert env.leaks() == []


class LostReply:
    """The server commits, then the connection breaks before its answer is read: the writer
    cannot know whether its row landed. Armed for the next ``n`` commits."""

    def __init__(self, engine) -> None:
        self.commit = engine.dialect.do_commit
        self.armed = 0
        self.fired = 0
        engine.dialect.do_commit = self

    def __call__(self, dbapi_conn) -> None:
        import psycopg

        self.commit(dbapi_conn)
        if self.armed:
            self.armed -= 1
            self.fired += 1
            dbapi_conn.dbapi_connection.close()  # the socket goes, as in a restart
            raise psycopg.OperationalError("server closed the connection unexpectedly")


def test_a_write_whose_commit_answer_was_lost_is_not_written_twice(pg):
    from harness.station import records as R
    from harness.station.limits import Limit
    from harness.station.recorder import Recorder, RunInfo

    url = pg.create_db("lost_reply")
    engine = R.open_store(url)
    lost = LostReply(engine)
    waits: list[tuple[str, str]] = []
    lost.armed = 1
    rec = Recorder.start(engine, RunInfo("W2644000921", "qsm-washer", "QSM-W-1000-A", "s", 1,
                                         "o"), on_wait=lambda what, why: waits.append(what))
    limit = Limit(name="fill_time", low=30, high=55, unit="s", marginal=3)
    lost.armed = 1
    step = rec.start_step("t.py::test_a")
    for value in (40.0, 40.0, 41.0):  # the same value twice in a row: two rows, not one
        lost.armed = 1
        rec.measurement(step, limit.judge(value, "s"), "0" * 64)
    lost.armed = 1
    rec.dut(step, name="washer", target="qsm-washer", world="qemu", firmware_path="fw.elf",
            firmware_sha256="1" * 64, firmware_version="1.3.0")
    lost.armed = 1
    rec.instrument(step, "psu", "VIRTUAL,PSU,0,1")
    lost.armed = 1
    rec.end_step(step, "passed", instruments={"dmm": "VIRTUAL,DMM,0,1"})
    lost.armed = 1
    rec.end("pass", tests=1, failed=0, errors=0)
    assert lost.fired == 9 and len(waits) == 9 and rec.lost is None

    with engine.connect() as conn:
        count = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                 for t in ("runs", "steps", "step_ends", "measurements", "duts", "instruments",
                           "run_ends")}
        values = conn.execute(text("SELECT value_text FROM measurements ORDER BY id")).all()
    assert count == {"runs": 1, "steps": 1, "step_ends": 1, "measurements": 3, "duts": 1,
                     "instruments": 2, "run_ends": 1}
    assert [v for (v,) in values] == ["40.0", "40.0", "41.0"]
    engine.dispose()
