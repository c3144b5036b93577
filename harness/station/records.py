"""The record store: an append-only schema in SQLAlchemy Core, SQLite by default, PostgreSQL by URL.

Tables (every one insert-only; the database itself refuses UPDATE and DELETE through triggers):

* ``meta``          schema version;
* ``runs``          one row per unit run, written when it starts (serial, part, station, slot,
                    operator, harness version and git hash, limits file and hash, attempt);
* ``run_ends``      the end of a run (end time, outcome, firmware, instrument identities) —
                    a run without one was killed: it reads as ``aborted``;
* ``steps``         one row per test attempt (numbered: retries are rows of their own);
* ``step_ends``     the outcome of a test attempt;
* ``measurements``  one row per measured value with its limits and verdict, committed at once;
* ``duts``          firmware sha256 and the version read back from each DUT a run booted;
* ``instruments``   instrument identities seen by a run;
* ``attachments``   files a step left (console logs...), by path, size and sha256.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError

from ..errors import ConfigError, HarnessError

SCHEMA_VERSION = 1
DEFAULT_URL = "sqlite:///results/harness.db"

metadata = MetaData()


def _id() -> Column:
    return Column("id", Integer, primary_key=True, autoincrement=True)


def _run_fk() -> Column:
    return Column("run_id", Integer, ForeignKey("runs.id"), nullable=False, index=True)


def _step_fk(nullable: bool = True) -> Column:
    return Column("step_id", Integer, ForeignKey("steps.id"), nullable=nullable, index=True)


meta = Table("meta", metadata, Column("key", String(64), primary_key=True),
             Column("value", Text, nullable=False))

runs = Table(
    "runs", metadata, _id(),
    Column("serial", Text, nullable=False, index=True),
    Column("product", String(64), nullable=False),
    Column("part_number", String(64), nullable=False),
    Column("station", Text, nullable=False),
    Column("slot", Integer, nullable=False),
    Column("operator", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("harness_version", String(32), nullable=False),
    Column("harness_git", String(64), nullable=False),
    Column("limits_path", Text),
    Column("limits_version", String(64)),
    Column("limits_sha256", String(64)),
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_ms", BigInteger, nullable=False),
)

run_ends = Table(
    "run_ends", metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column("ended_ms", BigInteger, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("firmware_sha256", String(64)),
    Column("firmware_version", Text),
    Column("instruments", Text, nullable=False),  # JSON {name: identity}
    Column("tests", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("errors", Integer, nullable=False),
)

steps = Table(
    "steps", metadata, _id(), _run_fk(),
    Column("nodeid", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("started_ms", BigInteger, nullable=False),
)

step_ends = Table(
    "step_ends", metadata,
    Column("step_id", Integer, ForeignKey("steps.id"), primary_key=True),
    Column("ended_ms", BigInteger, nullable=False),
    Column("outcome", String(16), nullable=False),  # passed failed error skipped flaky
    Column("message", Text, nullable=False),
)

measurements = Table(
    "measurements", metadata, _id(), _run_fk(), _step_fk(),
    Column("name", String(128), nullable=False, index=True),
    Column("value", Float),  # NULL when not finite: see value_text
    Column("value_text", String(40), nullable=False),  # repr of the value as measured
    Column("unit", String(16), nullable=False),
    Column("low", Float),
    Column("high", Float),
    Column("marginal", Float, nullable=False),
    Column("outcome", String(16), nullable=False),  # pass marginal fail
    Column("limits_sha256", String(64), nullable=False),
    Column("taken_ms", BigInteger, nullable=False),
)

duts = Table(
    "duts", metadata, _id(), _run_fk(), _step_fk(),
    Column("name", Text, nullable=False),
    Column("target", String(64), nullable=False),
    Column("world", String(32), nullable=False),
    Column("firmware_path", Text, nullable=False),
    Column("firmware_sha256", String(64), nullable=False),
    Column("firmware_version", Text, nullable=False),
    Column("ready_ms", BigInteger, nullable=False),
)

instruments = Table(
    "instruments", metadata, _id(), _run_fk(), _step_fk(),
    Column("name", Text, nullable=False),
    Column("identity", Text, nullable=False),
    Column("seen_ms", BigInteger, nullable=False),
)

attachments = Table(
    "attachments", metadata, _id(), _run_fk(), _step_fk(),
    Column("name", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
)

APPEND_ONLY = [t.name for t in metadata.sorted_tables]


def now_ms() -> int:
    return int(time.time() * 1000)


def float_or_none(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


class RecordError(HarnessError):
    pass


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")  # a committed measurement survives power loss too
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=60000")  # slots share the file; writers take turns
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; a SQLite file's directory is created. Errors name the URL."""
    try:
        u = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"--db {url!r}: not a database URL ({exc})") from None
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(u, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if u.get_backend_name() == "postgresql":
        return create_engine(u, pool_pre_ping=True)
    raise ConfigError(f"--db {u.render_as_string(hide_password=True)!r}: only sqlite:/// and "
                      f"postgresql+psycopg:// URLs are supported")


_SQLITE_GUARD = """CREATE TRIGGER IF NOT EXISTS {t}_append_only_{op} BEFORE {OP} ON {t}
BEGIN SELECT RAISE(ABORT, 'records are append-only: {OP} on {t} refused'); END"""
_PG_FUNC = """CREATE OR REPLACE FUNCTION harness_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'records are append-only: % on % refused', TG_OP, TG_TABLE_NAME; END
$$ LANGUAGE plpgsql"""
_PG_GUARD = """CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t}
FOR EACH ROW EXECUTE FUNCTION harness_append_only()"""


def _install_guards(conn, dialect: str) -> None:
    if dialect == "sqlite":
        for t in APPEND_ONLY:
            for op in ("update", "delete"):
                conn.execute(text(_SQLITE_GUARD.format(t=t, op=op, OP=op.upper())))
    else:
        conn.execute(text(_PG_FUNC))
        for t in APPEND_ONLY:
            conn.execute(text(_PG_GUARD.format(t=t)))


def open_store(url: str) -> Engine:
    """Open the store at ``url``, creating the schema (with its version) on first use."""
    engine = make_engine(url)
    for attempt in range(5):
        try:
            _create(engine)
            return engine
        except RecordError as exc:
            # two slots creating a new SQLite file at once: the loser sees "already exists"
            if "already exists" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.05)
    return engine


def _create(engine: Engine) -> None:
    where = engine.url.render_as_string(hide_password=True)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":  # one creator at a time across slots
                conn.execute(text("SELECT pg_advisory_xact_lock(7207)"))
            metadata.create_all(conn, checkfirst=True)
            found = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version"))
            version = found.scalar()
            if version is None:
                _install_guards(conn, engine.dialect.name)
                conn.execute(meta.insert().values(key="schema_version",
                                                  value=str(SCHEMA_VERSION)))
            elif version != str(SCHEMA_VERSION):
                raise RecordError(f"{where}: record schema version {version}, this harness "
                                  f"writes version {SCHEMA_VERSION}; use another database")
    except (OperationalError, ProgrammingError) as exc:
        raise RecordError(f"{where}: cannot open the record store: "
                          f"{str(exc.orig).strip() or exc}") from None


# -- reading ------------------------------------------------------------------------------
def run_rows(conn, serial: str | None = None, run_id: int | None = None) -> list[dict]:
    """Runs joined with their ends; a run without an end reads as ``aborted``."""
    q = select(runs, run_ends.c.ended_ms, run_ends.c.outcome, run_ends.c.firmware_sha256,
               run_ends.c.firmware_version, run_ends.c.instruments, run_ends.c.tests,
               run_ends.c.failed, run_ends.c.errors).select_from(
        runs.outerjoin(run_ends, run_ends.c.run_id == runs.c.id)).order_by(runs.c.id)
    if serial is not None:
        q = q.where(runs.c.serial == serial)
    if run_id is not None:
        q = q.where(runs.c.id == run_id)
    out = []
    for r in conn.execute(q).mappings():
        row = dict(r)
        if row["outcome"] is None:
            row["outcome"] = "aborted"
            first = conn.execute(select(duts.c.firmware_sha256, duts.c.firmware_version)
                                 .where(duts.c.run_id == row["id"])
                                 .order_by(duts.c.id).limit(1)).first()
            if first is not None:
                row["firmware_sha256"], row["firmware_version"] = first
            inst = conn.execute(select(instruments.c.name, instruments.c.identity)
                                .where(instruments.c.run_id == row["id"])).all()
            row["instruments"] = json.dumps(dict(inst))
        row["instruments"] = json.loads(row["instruments"] or "{}")
        out.append(row)
    return out


def _rows(conn, q) -> list[dict]:
    return [dict(r) for r in conn.execute(q).mappings()]


def record(conn, run_id: int) -> dict:
    """One run's whole record as plain data (the JSON export)."""
    found = run_rows(conn, run_id=run_id)
    if not found:
        raise RecordError(f"no run with id {run_id}")
    run = found[0]
    step_list = _rows(conn, select(steps, step_ends.c.ended_ms, step_ends.c.outcome,
                                   step_ends.c.message)
                      .select_from(steps.outerjoin(step_ends, step_ends.c.step_id == steps.c.id))
                      .where(steps.c.run_id == run_id).order_by(steps.c.id))
    ms = _rows(conn, select(measurements).where(measurements.c.run_id == run_id)
               .order_by(measurements.c.id))
    att = _rows(conn, select(attachments).where(attachments.c.run_id == run_id)
                .order_by(attachments.c.id))
    by_step: dict[int | None, dict] = {}
    for s in step_list:
        s["outcome"] = s["outcome"] or "aborted"
        s["measurements"], s["attachments"] = [], []
        by_step[s["id"]] = s
    loose: dict = {"measurements": [], "attachments": []}
    for m in ms:
        m["value"] = float(m["value_text"])
        by_step.get(m["step_id"], loose)["measurements"].append(m)
    for a in att:
        by_step.get(a["step_id"], loose)["attachments"].append(a)
    run["duts"] = _rows(conn, select(duts).where(duts.c.run_id == run_id).order_by(duts.c.id))
    run["steps"] = step_list
    run["run_measurements"] = loose["measurements"]
    run["run_attachments"] = loose["attachments"]
    return run


def next_run_attempt(conn, serial: str) -> int:
    n = conn.execute(select(func.count()).select_from(runs).where(runs.c.serial == serial))
    return int(n.scalar() or 0) + 1
