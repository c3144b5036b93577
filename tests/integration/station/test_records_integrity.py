"""Append-only that holds, on a SQLite file and a real PostgreSQL server: the guards refuse
UPDATE, DELETE, TRUNCATE and a run end not written by its owner; ``records verify`` names every
edited, deleted or inserted row even when a superuser went around the guards; a run whose
process was killed is closed as ``aborted (lost)``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from harness.station import integrity as I
from harness.station import records as R
from harness.station import records_cli
from harness.station.limits import Limit
from harness.station.recorder import Recorder, RunInfo

ROOT = Path(__file__).resolve().parents[3]
LIMIT = Limit(name="fill_time", low=30, high=55, unit="s", marginal=3)


def _info(serial: str = "W2644000001") -> RunInfo:
    return RunInfo(serial=serial, product="qsm-washer", part_number="QSM-W-1000-A",
                   station="line-1", slot=1, operator="ann")


def _full_run(engine, serial: str = "W2644000001", end: bool = True) -> Recorder:
    rec = Recorder.start(engine, _info(serial), git="abc")
    step = rec.start_step("t.py::test_fill")
    rec.dut(step, name="washer", target="qsm-washer", world="qemu", firmware_path="/f.elf",
            firmware_sha256="ab" * 32, firmware_version="1.3.0")
    for value in (41.0, 60.0, 42.0):
        rec.measurement(step, LIMIT.judge(value, "s"), "f" * 64)
    rec.end_step(step, "failed", "fill_time 60.0 s above 55", instruments={"psu": "PSU,1"})
    if end:
        rec.end("fail", tests=1, failed=1, errors=0)
    return rec


def _ids(engine, table: str, run_id: int) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(text(f"SELECT id FROM {table} WHERE run_id = :r ORDER BY id"),
                                 {"r": run_id}).scalars())


def _kinds(found) -> list[tuple[str, str, object]]:
    return sorted((f.kind, f.table, f.key) for f in found if f.kind != "guard")


class Superuser:
    """Edits the records around the guards, as a database superuser (PostgreSQL) or anyone who
    can write the file (SQLite) could."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"

    def run(self, table: str, *stmts: str) -> None:
        with self.engine.begin() as conn:
            if self.sqlite:
                for name, (t, _sql) in R.guards("sqlite").items():
                    if t == table:
                        conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
            else:
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER ALL"))
            for stmt in stmts:
                conn.execute(text(stmt))
            if not self.sqlite:
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER ALL"))


# -- the guards ------------------------------------------------------------------------------
@pytest.mark.parametrize("stmt", [
    "UPDATE measurements SET value = 40 WHERE outcome = 'fail'",
    "UPDATE run_ends SET outcome = 'pass'",
    "DELETE FROM measurements WHERE outcome = 'fail'",
    "DELETE FROM measurements",  # SQLite's TRUNCATE
    "TRUNCATE measurements",
    "TRUNCATE runs CASCADE",
    "TRUNCATE step_ends, steps, measurements, duts, instruments, attachments, prompts, run_ends,"
    " runs",
])
def test_update_delete_and_truncate_are_refused(store_url, stmt):
    engine = R.open_store(store_url)
    _full_run(engine)
    if stmt.startswith("TRUNCATE") and engine.dialect.name == "sqlite":
        stmt = stmt.replace("TRUNCATE", "DELETE FROM").split(",")[0].replace(" CASCADE", "")
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(stmt))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM measurements")).scalar() == 3
        assert [r["outcome"] for r in R.run_rows(conn)] == ["fail"]
    assert I.verify(engine).clean
    engine.dispose()


def _end_row(run_id: int, **kw) -> dict:
    row = dict(run_id=run_id, ended_ms=R.now_ms(), outcome="pass", reason="",
               firmware_sha256=None, firmware_version=None, instruments="{}", tests=1,
               failed=0, errors=0, owner_token=None)
    row.update(kw)
    return row


def test_a_run_end_is_written_once_and_only_by_the_runs_owner(store_url):
    engine = R.open_store(store_url)
    killed = _full_run(engine, end=False)  # its process is gone: nobody holds its token
    head = I.Link("step_ends", 1, 7, "0" * 64)
    for forged in (_end_row(killed.run_id), _end_row(killed.run_id, owner_token="ab" * 32)):
        with pytest.raises(DBAPIError, match="not written by the process that owns the run"), \
                engine.begin() as conn:
            conn.execute(R.run_ends.insert().values(**I.seal(R.run_ends, forged, head)))
    with engine.connect() as conn:
        assert [r["outcome"] for r in R.run_rows(conn)] == ["aborted"]
    killed.end("fail", tests=1, failed=1, errors=0, reason="stopped by the operator")
    with pytest.raises(R.RecordError):  # once: a second end is refused, its owner's too
        killed.end("pass", tests=1, failed=0, errors=0)
    with pytest.raises(DBAPIError, match="has ended"), engine.begin() as conn:  # nothing after
        conn.execute(R.measurements.insert().values(**I.seal(R.measurements, dict(
            run_id=killed.run_id, step_id=None, name="x", value=1.0, value_text="1.0",
            unit="s", low=None, high=None, marginal=0, outcome="pass", limits_sha256="",
            taken_ms=0), killed._head)))
    with engine.connect() as conn:
        (run,) = R.run_rows(conn)
    assert (run["outcome"], run["reason"]) == ("fail", "stopped by the operator")
    assert I.verify(engine).clean
    engine.dispose()


# -- verify ----------------------------------------------------------------------------------
def test_verify_names_an_edit_made_around_the_guards(store_url):
    engine = R.open_store(store_url)
    other = _full_run(engine, "W2644000002")
    rec = _full_run(engine)
    assert I.verify(engine).clean
    bad = _ids(engine, "measurements", rec.run_id)[1]  # the failing 60.0
    Superuser(engine).run("measurements",
                          f"UPDATE measurements SET value = 50, value_text = '50.0', "
                          f"outcome = 'pass' WHERE id = {bad}")
    Superuser(engine).run("run_ends", f"UPDATE run_ends SET outcome = 'pass', failed = 0 "
                                      f"WHERE run_id = {rec.run_id}")
    found = I.verify(engine).findings
    assert _kinds(found) == [("edited", "measurements", bad), ("edited", "run_ends", rec.run_id)]
    assert all(f.run_id == rec.run_id for f in found if f.kind != "guard")
    assert any(f.kind == "guard" and f.table == "measurements" for f in found)
    assert I.verify(engine, other.run_id).findings == [f for f in found if f.kind == "guard"]
    engine.dispose()


def test_verify_names_deleted_and_inserted_rows(store_url):
    engine = R.open_store(store_url)
    rec = _full_run(engine)
    m = _ids(engine, "measurements", rec.run_id)
    Superuser(engine).run("measurements", f"DELETE FROM measurements WHERE id = {m[1]}")
    cols = ", ".join(c.name for c in R.measurements.c if c.name != "id")
    copied = cols.replace("value_text", "'40.0'").replace("chain_seq", "chain_seq + 100")
    Superuser(engine).run(
        "measurements",
        # a forger who copies a row and changes it (chain columns and all), and one who makes
        # the chain columns up
        f"INSERT INTO measurements ({cols}) SELECT {copied} FROM measurements WHERE id = {m[2]}",
        f"INSERT INTO measurements ({cols}) SELECT "
        f"{cols.replace('chain_prev', chr(39) + 'x' + chr(39)).replace('chain_seq', '999')} "
        f"FROM measurements WHERE id = {m[0]}")
    inserted = [i for i in _ids(engine, "measurements", rec.run_id) if i not in m]
    # a killed run closed as passed by someone who knows the chain but not the owner's token
    killed = _full_run(engine, "W2644000002", end=False)
    forged = I.seal(R.run_ends, _end_row(killed.run_id, owner_token="ab" * 32), killed._head)
    Superuser(engine).run("run_ends", str(R.run_ends.insert().values(**forged).compile(
        engine, compile_kwargs={"literal_binds": True})))
    found = I.verify(engine).findings
    assert _kinds(found) == [("deleted", "measurements", m[1])] + \
        [("inserted", "measurements", i) for i in inserted] + \
        [("inserted", "run_ends", killed.run_id)]
    assert [f.detail for f in found if f.table == "run_ends" and f.kind != "guard"] == \
        ["not written by the process that owns the run (its owner token does not match)"]
    assert len(inserted) == 2 and min(inserted) > max(m)  # no id is given twice
    engine.dispose()


def test_records_verify_command(store_url, tmp_path):
    engine = R.open_store(store_url)
    rec = _full_run(engine)

    def verify(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "harness.station.records_cli", "verify",
                               "--db", store_url, *args], cwd=ROOT, capture_output=True,
                              text=True)

    ok = verify()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "verified 1 run(s), 9 row(s): no edited, deleted or inserted row" in ok.stdout
    step = _ids(engine, "steps", rec.run_id)[0]
    Superuser(engine).run("step_ends", f"UPDATE step_ends SET outcome = 'passed' "
                                       f"WHERE step_id = {step}")
    bad = verify("--run", str(rec.run_id))
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert f"run {rec.run_id}: edited step_ends {step}: its values no longer give its hash" \
        in bad.stdout
    assert "1 row problem(s) in 1 run(s)" in bad.stdout
    engine.dispose()


# -- PostgreSQL: the station's role, replicas --------------------------------------------------
@pytest.fixture
def pg_store(pg_server, request):
    name = "ri_" + request.node.name[-40:].lower() + f"_{os.getpid()}"
    url = pg_server.create_db("".join(c if c.isalnum() else "_" for c in name))
    engine = R.open_store(url)
    yield pg_server, url, engine
    engine.dispose()


def test_the_station_role_may_insert_and_select_only(pg_store, capsys):
    server, url, engine = pg_store
    assert records_cli.main(["init", "--db", url]) == 0  # as the site's database owner would
    assert f"role {R.STATION_ROLE}: INSERT and SELECT on the records" in capsys.readouterr().out
    login = f"line_{os.getpid()}"
    with engine.begin() as conn:
        conn.execute(text(f"CREATE ROLE {login} LOGIN IN ROLE {R.STATION_ROLE}"))
    station = R.open_store(url.replace(f"//{server.role}@", f"//{login}@"))
    try:
        rec = _full_run(station)  # every write a run makes
        for stmt in ("UPDATE measurements SET value = 40", "DELETE FROM measurements",
                     "TRUNCATE measurements", "TRUNCATE runs CASCADE",
                     "ALTER TABLE measurements DISABLE TRIGGER ALL",
                     "SET session_replication_role = replica"):
            with pytest.raises(DBAPIError, match="permission denied|must be owner"), \
                    station.begin() as conn:
                conn.execute(text(stmt))
        with station.connect() as conn:
            assert [r["id"] for r in R.run_rows(conn)] == [rec.run_id]
        assert I.verify(station).clean
    finally:
        station.dispose()


def test_a_replica_session_does_not_slip_past_the_guards(pg_store):
    _server, _url, engine = pg_store
    _full_run(engine)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("UPDATE measurements SET value = 40"))
    assert I.verify(engine).clean


def test_a_retried_write_keeps_the_chain_whole(pg_store):
    """Every commit's answer is lost once: each write is tried again and finds its row."""
    import psycopg

    _server, _url, engine = pg_store
    commit = engine.dialect.do_commit
    lost = {"n": 0}

    def lose_answer(dbapi_conn) -> None:
        commit(dbapi_conn)
        if lost["n"] % 2 == 0:
            lost["n"] += 1
            dbapi_conn.dbapi_connection.close()
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        lost["n"] += 1

    engine.dialect.do_commit = lose_answer  # type: ignore[method-assign]
    try:
        rec = _full_run(engine)
    finally:
        engine.dialect.do_commit = commit  # type: ignore[method-assign]
    assert lost["n"] == 16 and rec.lost is None
    with engine.connect() as conn:
        seqs = [conn.execute(select(t.c.chain_seq)).scalars().all() for t in R.CHAINED]
    assert sorted(s for one in seqs for s in one) == list(range(9))
    assert I.verify(engine).clean


# -- lost runs -------------------------------------------------------------------------------
CHILD = textwrap.dedent('''
    import sys, time
    from harness.station import records as R
    from harness.station.limits import Limit
    from harness.station.recorder import Recorder, RunInfo

    engine = R.open_store(sys.argv[1])
    rec = Recorder.start(engine, RunInfo("W2644000666", "qsm-washer", "QSM-W-1000-A", "line-1",
                                         1, "ann"))
    step = rec.start_step("t.py::test_fill")
    rec.measurement(step, Limit(name="fill_time", low=30, high=55, unit="s",
                                marginal=3).judge(41.0, "s"), "0" * 64)
    print(rec.run_id, flush=True)
    time.sleep(3600)
''')


def test_a_killed_run_is_closed_as_lost_and_a_live_one_is_not(store_url):
    engine = R.open_store(store_url)
    alive = _full_run(engine, "W2644000001", end=False)  # this process: still running
    proc = subprocess.Popen([sys.executable, "-c", CHILD, store_url], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        killed = int(proc.stdout.readline())
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    said: list[tuple[int, str]] = []
    assert I.close_lost_runs(engine, on_close=lambda rid, why: said.append((rid, why))) == \
        [killed]
    assert I.close_lost_runs(engine) == []  # closed once
    with engine.connect() as conn:
        runs = {r["id"]: r for r in R.run_rows(conn)}
    assert runs[killed]["outcome"] == R.LOST
    assert runs[killed]["reason"] == said[0][1]
    assert f"its process {proc.pid} on " in said[0][1] and "is gone; closed by" in said[0][1]
    assert (runs[killed]["tests"], runs[killed]["errors"]) == (1, 1)  # cut off mid-test
    assert runs[alive.run_id]["outcome"] == "aborted"
    alive.end("pass", tests=1, failed=0, errors=0)  # its owner still ends it
    assert I.verify(engine).clean
    engine.dispose()
