"""The record store on real databases: SQLite files and a real PostgreSQL server."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from harness.station import records as R
from harness.station.limits import Limit
from harness.station.recorder import Recorder, RunInfo

LIMIT = Limit(name="fill_time", low=30, high=55, unit="s", marginal=3)


def _info(serial="W2644000001", slot=1) -> RunInfo:
    return RunInfo(serial=serial, product="qsm-washer", part_number="QSM-W-1000-A",
                   station="line-1", slot=slot, operator="ann")


def test_a_run_with_steps_measurements_and_end(store_url):
    engine = R.open_store(store_url)
    rec = Recorder.start(engine, _info(), git="abc123")
    step = rec.start_step("tests/x.py::test_fill")
    rec.dut(step, name="qsm-washer", target="qsm-washer", world="qemu", firmware_path="/f.elf",
            firmware_sha256="ab" * 32, firmware_version="washer 1.3.0")
    rec.instrument(step, "psu", "QSM,PSU-1,SN42,1.0")
    rec.measurement(step, LIMIT.judge(41.0, "s"), "f" * 64)
    rec.measurement(step, LIMIT.judge(31.5, "s"), "f" * 64)
    rec.end_step(step, "passed")
    rec.end("pass", tests=1, failed=0, errors=0)
    with engine.connect() as conn:
        (run,) = R.run_rows(conn)
        full = R.record(conn, run["id"])
    assert (run["serial"], run["slot"], run["operator"], run["outcome"]) == \
        ("W2644000001", 1, "ann", "pass")
    assert run["firmware_sha256"] == "ab" * 32 and run["firmware_version"] == "washer 1.3.0"
    assert run["instruments"] == {"psu": "QSM,PSU-1,SN42,1.0"}
    assert run["harness_git"] == "abc123" and run["ended_ms"] >= run["started_ms"]
    ms = full["steps"][0]["measurements"]
    assert [(m["value"], m["outcome"], m["low"], m["high"]) for m in ms] == \
        [(41.0, "pass", 30.0, 55.0), (31.5, "marginal", 30.0, 55.0)]
    engine.dispose()


def test_every_attempt_is_its_own_numbered_row(store_url):
    engine = R.open_store(store_url)
    first = Recorder.start(engine, _info())
    s1 = first.start_step("t::a")
    first.end_step(s1, "failed", "boom")
    s2 = first.start_step("t::a")  # a retry of the same test
    first.end_step(s2, "passed")
    first.end("pass", tests=2, failed=1, errors=0)
    second = Recorder.start(engine, _info())  # the unit tested again
    with engine.connect() as conn:
        steps = conn.execute(select(R.steps.c.attempt).order_by(R.steps.c.id)).scalars().all()
        attempts = [r["attempt"] for r in R.run_rows(conn, serial="W2644000001")]
        outcomes = [s["outcome"] for s in R.record(conn, first.run_id)["steps"]]
    assert steps == [1, 2] and outcomes == ["failed", "passed"]
    assert attempts == [1, 2]
    assert second.run_id != first.run_id
    engine.dispose()


def test_records_are_append_only_in_the_database_itself(store_url):
    engine = R.open_store(store_url)
    rec = Recorder.start(engine, _info())
    rec.measurement(None, LIMIT.judge(40.0, "s"), "0" * 64)
    for stmt in ("UPDATE measurements SET value = 1", "DELETE FROM measurements",
                 "UPDATE runs SET serial = 'x'"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(stmt))
    with engine.connect() as conn:
        assert conn.execute(select(R.measurements.c.value)).scalars().all() == [40.0]
    engine.dispose()


@pytest.mark.parametrize("serial", ["'; DROP TABLE runs;--", "../../etc/passwd", "$(reboot)",
                                    "x" * 10_000, "W26\u00e9\U0001F600\t\"<b>"])
def test_hostile_serial_numbers_are_stored_verbatim(store_url, serial):
    engine = R.open_store(store_url)
    Recorder.start(engine, _info(serial)).end("pass", tests=0, failed=0, errors=0)
    with engine.connect() as conn:
        assert [r["serial"] for r in R.run_rows(conn)] == [serial]
        assert conn.execute(text("SELECT count(*) FROM runs")).scalar() == 1  # table intact
    engine.dispose()


def test_non_utf8_serial_number_is_refused(store_url):
    engine = R.open_store(store_url)
    bad = b"W26\xff\xfe".decode("utf-8", "surrogateescape")
    with pytest.raises(R.RecordError, match="not valid UTF-8"):
        Recorder.start(engine, _info(bad))
    engine.dispose()


def test_nan_is_kept_as_measured_and_fails(store_url):
    engine = R.open_store(store_url)
    rec = Recorder.start(engine, _info())
    rec.measurement(None, LIMIT.judge(float("nan"), "s"), "0" * 64)
    with engine.connect() as conn:
        (m,) = R.record(conn, rec.run_id)["run_measurements"]
    assert math.isnan(m["value"]) and m["outcome"] == "fail" and m["value_text"] == "nan"
    engine.dispose()


def test_a_run_without_an_end_reads_aborted_and_a_newer_schema_is_refused(store_url):
    engine = R.open_store(store_url)
    Recorder.start(engine, _info())
    with engine.connect() as conn:
        assert [r["outcome"] for r in R.run_rows(conn)] == ["aborted"]
    engine.dispose()
    # a store written by a future harness: refused with the URL and both versions
    engine = R.make_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER IF EXISTS meta_append_only_update")) \
            if engine.dialect.name == "sqlite" else \
            conn.execute(text("DROP TRIGGER meta_append_only ON meta"))
        conn.execute(R.meta.update().values(value="99"))
    engine.dispose()
    with pytest.raises(R.RecordError, match="schema version 99"):
        R.open_store(store_url)
