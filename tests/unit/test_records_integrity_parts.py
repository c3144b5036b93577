"""Record integrity without a database server: the canonical encoding, the chain check on rows
built here, the owner of a run, lost runs and ``records verify`` on SQLite files."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys

import pytest
from sqlalchemy import text

from harness.station import cli as station_cli
from harness.station import integrity as I
from harness.station import records as R
from harness.station import records_cli
from harness.station.limits import Limit
from harness.station.recorder import Recorder, RunInfo

LIMIT = Limit(name="fill_time", low=30, high=55, unit="s", marginal=3)
INFO = RunInfo(serial="W2644000001", product="qsm-washer", part_number="QSM-W-1000-A",
               station="line-1", slot=1, operator="ann")
TOKEN = "ab" * 32


# -- the encoding ---------------------------------------------------------------------------
def test_the_canonical_encoding_is_sorted_compact_json_with_floats_as_their_repr():
    row = dict(run_id=7, step_id=None, name="fill_time", value=41, value_text="41",
               unit="s", low=30, high=float("inf"), marginal=3, outcome="pass",
               limits_sha256="f" * 64, taken_ms=1_700_000_000_123)
    sealed = I.seal(R.measurements, row, I.Link("steps", 3, 4, "c" * 64))
    assert sealed["value"] == 41.0 and isinstance(sealed["value"], float)
    assert sealed["chain_seq"] == 5 and sealed["chain_prev"] == "steps:3:" + "c" * 64
    encoded = I.canonical(R.measurements, sealed)
    assert encoded == (
        '{"@table":"measurements","chain_prev":"steps:3:' + "c" * 64 + '","chain_seq":5,'
        '"high":"inf","limits_sha256":"' + "f" * 64 + '","low":"30.0","marginal":"3.0",'
        '"name":"fill_time","outcome":"pass","run_id":7,"step_id":null,'
        '"taken_ms":1700000000123,"unit":"s","value":"41.0","value_text":"41"}').encode()
    assert sealed["chain_hash"] == hashlib.sha256(encoded).hexdigest()


def test_text_is_ascii_escaped_and_every_column_counts():
    row = dict(run_id=1, step_id=2, ended_ms=3, outcome="passed", message="é\U0001F600\n")
    sealed = I.seal(R.step_ends, row, None)
    assert b'"message":"\\u00e9\\ud83d\\ude00\\n"' in I.canonical(R.step_ends, sealed)
    assert sealed["chain_seq"] == 0 and sealed["chain_prev"] == ""
    for col, other in (("message", "x"), ("ended_ms", 4), ("chain_seq", 1)):
        assert I.row_hash(R.step_ends, dict(sealed, **{col: other})) != sealed["chain_hash"]
    with pytest.raises(KeyError, match="outcome"):
        I.seal(R.step_ends, {k: v for k, v in row.items() if k != "outcome"}, None)


# -- the chain check on rows built here --------------------------------------------------------
class Chain:
    """A run's rows as the recorder writes them: each sealed after the one before."""

    def __init__(self, run_id: int = 1) -> None:
        self.run_id = run_id
        self.rows: list[I.ChainRow] = []
        self.ids = {"steps": 100, "measurements": 200}
        head = dict(id=run_id, serial="W1", product="p", part_number="P", station="s", slot=1,
                    operator="o", attempt=1, harness_version="1", harness_git="g",
                    limits_path=None, limits_version=None, limits_sha256=None, host="h",
                    pid=1, pid_start="", owner_sha256=R.sha256_hex(TOKEN), started_ms=0)
        self._add(R.runs, head, run_id)

    def _add(self, table, values, key) -> I.ChainRow:
        prev = I.link_of(self.rows[-1].table, self.rows[-1].values) if self.rows else None
        sealed = I.seal(table, values, prev)
        if "id" in table.c:
            sealed["id"] = key
        row = I.ChainRow(table, sealed)
        self.rows.append(row)
        return row

    def step(self) -> I.ChainRow:
        self.ids["steps"] += 1
        return self._add(R.steps, dict(run_id=self.run_id, nodeid="t::a", attempt=1,
                                       started_ms=1), self.ids["steps"])

    def measurement(self, value: float = 40.0) -> I.ChainRow:
        self.ids["measurements"] += 1
        return self._add(R.measurements, dict(
            run_id=self.run_id, step_id=self.ids["steps"], name="m", value=value,
            value_text=repr(value), unit="s", low=30, high=55, marginal=1, outcome="pass",
            limits_sha256="0" * 64, taken_ms=2), self.ids["measurements"])

    def end(self, token: str | None = TOKEN, outcome: str = "pass") -> I.ChainRow:
        return self._add(R.run_ends, dict(
            run_id=self.run_id, ended_ms=3, outcome=outcome, firmware_sha256=None,
            firmware_version=None, instruments="{}", tests=1, failed=0, errors=0, reason="",
            owner_token=token), self.run_id)

    def check(self, rows=None) -> list[tuple[str, str, object]]:
        return [(f.kind, f.table, f.key) for f in I.check_run(self.run_id, rows or self.rows)]


def _edited(row: I.ChainRow, **values) -> I.ChainRow:
    return I.ChainRow(row.table, dict(row.values, **values))


def test_a_whole_chain_checks():
    c = Chain()
    c.step()
    c.measurement()
    c.measurement()
    c.end()
    assert c.check() == []


def test_an_edited_row_is_named_and_its_neighbours_are_not():
    c = Chain()
    c.step()
    m = c.measurement(60.0)
    c.measurement()
    c.end()
    rows = [_edited(r, value=40.0, outcome="pass") if r is m else r for r in c.rows]
    assert c.check(rows) == [("edited", "measurements", 201)]


def test_an_edit_whose_hash_was_recomputed_is_named_by_the_next_link():
    c = Chain()
    c.step()
    m = c.measurement(60.0)
    c.measurement()
    forged = dict(m.values, value=40.0)
    forged["chain_hash"] = I.row_hash(R.measurements, forged)
    rows = [I.ChainRow(R.measurements, forged) if r is m else r for r in c.rows]
    assert c.check(rows) == [("edited", "measurements", 201)]


def test_deleted_rows_are_named_by_the_link_to_them():
    c = Chain()
    c.step()
    gone = [c.measurement(), c.measurement(), c.measurement()]
    c.measurement()
    c.end()
    one = [r for r in c.rows if r is not gone[1]]
    assert c.check(one) == [("deleted", "measurements", 202)]
    found = I.check_run(1, [r for r in c.rows if r not in gone])
    assert [(f.kind, f.table, f.key) for f in found] == [("deleted", "measurements", 203)]
    assert "2 rows before it are gone too (chain positions 2-3)" in found[0].detail


def test_inserted_rows_a_fork_a_stray_and_one_after_the_end():
    c = Chain()
    c.step()
    m = c.measurement()
    c.measurement()
    c.end()
    fork = dict(m.values, id=900, value=10.0)  # claims the place of measurements 201
    fork["chain_hash"] = I.row_hash(R.measurements, fork)
    stray = dict(m.values, id=901, chain_seq=77, chain_prev="x", chain_hash="0" * 64)
    last = c.rows[-1]
    after = I.seal(R.measurements, dict(m.values), I.link_of(last.table, last.values))
    after["id"] = 902
    rows = c.rows + [I.ChainRow(R.measurements, v) for v in (fork, stray, after)]
    assert sorted(c.check(rows)) == [("inserted", "measurements", 900),
                                     ("inserted", "measurements", 901),
                                     ("inserted", "measurements", 902)]
    found = {f.key: f.detail for f in I.check_run(1, rows)}
    assert found[902] == "written after the run's end"


def test_an_end_without_the_owners_token_is_inserted_unless_a_lost_close():
    c = Chain()
    c.step()
    c.end(token="cd" * 32)
    assert c.check() == [("inserted", "run_ends", 1)]
    lost = Chain()
    lost.end(token=None, outcome=R.LOST)
    assert lost.check() == []
    forged = Chain()
    forged.end(token=None, outcome="pass")
    assert forged.check() == [("inserted", "run_ends", 1)]


def test_a_run_whose_first_row_is_gone():
    c = Chain(run_id=5)
    c.step()
    c.measurement()
    assert c.check(c.rows[1:]) == [("deleted", "runs", 5)]


# -- the owner of a run ------------------------------------------------------------------------
def test_an_owner_is_gone_when_its_process_ended_or_its_pid_was_given_again():
    me = I.Owner.current()
    assert me.start and not me.gone()
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    start = I.process_start(proc.pid)
    proc.wait()
    assert I.Owner(me.host, proc.pid, start or "x").gone()
    assert I.Owner(me.host, os.getpid(), "other-boot/1").gone()  # a later process, same pid


# -- lost runs and records verify on SQLite ------------------------------------------------------
@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'records.db'}"
    engine = R.open_store(url)
    yield url, engine
    engine.dispose()


def test_a_run_of_another_host_is_lost_only_after_the_quiet_time(store, monkeypatch):
    url, engine = store
    with monkeypatch.context() as m:
        m.setattr(socket, "gethostname", lambda: "bench-pc-7")
        other = Recorder.start(engine, INFO)
    other.measurement(None, LIMIT.judge(40.0, "s"), "0" * 64)
    mine = Recorder.start(engine, INFO)  # this process: alive
    assert I.close_lost_runs(engine) == []
    assert I.close_lost_runs(engine, other_hosts_after=0) == [other.run_id]
    with engine.connect() as conn:
        rows = {r["id"]: r for r in R.run_rows(conn)}
    assert rows[other.run_id]["outcome"] == R.LOST
    assert "bench-pc-7 wrote nothing for" in rows[other.run_id]["reason"]
    assert rows[mine.run_id]["outcome"] == "aborted"  # open: its owner runs
    with pytest.raises(R.RecordError, match="has ended"):
        other.measurement(None, LIMIT.judge(41.0, "s"), "0" * 64)
    assert I.verify(engine).clean


def test_verify_cli_exit_codes_and_a_store_that_is_not_there(store, tmp_path, capsys):
    url, engine = store
    rec = Recorder.start(engine, INFO)
    rec.measurement(None, LIMIT.judge(40.0, "s"), "0" * 64)
    rec.end("pass", tests=1, failed=0, errors=0, reason="")
    assert records_cli.main(["verify", "--db", url]) == 0
    assert "verified 1 run(s), 3 row(s): no edited" in capsys.readouterr().out
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER measurements_append_only_update"))
        conn.execute(text("UPDATE measurements SET value_text = '45.0'"))
    assert records_cli.main(["verify", "--db", url, "--run", str(rec.run_id)]) == 1
    out = capsys.readouterr().out
    assert f"run {rec.run_id}: edited measurements 1: its values no longer give" in out
    assert "trigger measurements_append_only_update is gone" in out
    missing = tmp_path / "nowhere" / "x.db"
    assert records_cli.main(["verify", "--db", f"sqlite:///{missing}"]) == 2
    assert f"record store {missing} does not exist" in capsys.readouterr().err
    assert not missing.parent.exists()
    with pytest.raises(SystemExit):
        records_cli.main(["verify", "--db", url, "--lost-after", "-1"])


def test_a_store_of_the_older_schema_is_refused_naming_it_and_its_version(store):
    url, engine = store
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER meta_append_only_update"))
        conn.execute(R.meta.update().values(value="1"))
    path = url.removeprefix("sqlite:///")
    with pytest.raises(R.RecordError, match=rf"{path}: record schema version 1, written by an "
                                            rf"older harness; .* does not migrate"):
        R.open_store(url)
    with pytest.raises(R.RecordError, match="schema version 1"):
        station_cli.open_existing(url)


def test_the_end_facts_a_lost_close_writes(store):
    url, engine = store
    rec = Recorder.start(engine, INFO)
    a = rec.start_step("t::a")
    rec.end_step(a, "failed", "boom")
    rec.dut(None, name="d", target="t", world="qemu", firmware_path="f", firmware_sha256="1" * 64,
            firmware_version="1.3")
    b = rec.start_step("t::a")  # the retry: the last attempt counts
    rec.end_step(b, "passed", instruments={"psu": "PSU,1"})
    rec.start_step("t::b")  # cut off by the loss
    with engine.begin() as conn:
        I.close_run(conn, rec.run_id, "test")
    with engine.connect() as conn:
        (run,) = R.run_rows(conn)
    assert (run["outcome"], run["tests"], run["failed"], run["errors"]) == (R.LOST, 2, 0, 1)
    assert run["instruments"] == {"psu": "PSU,1"} and run["firmware_version"] == "1.3"
    assert run["reason"] == "test"
    assert I.verify(engine).clean
