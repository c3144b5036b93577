"""The record store: an append-only schema in SQLAlchemy Core, SQLite by default, PostgreSQL by URL.

Tables (every one insert-only; the database itself refuses UPDATE and DELETE through triggers,
and on PostgreSQL TRUNCATE too):

* ``meta``          schema version;
* ``runs``          one row per unit run, written when it starts (serial, part, station, slot,
                    operator, harness version and git hash, limits file and hash, attempt, the
                    owner process: host, pid, process start, sha256 of its owner token);
* ``run_ends``      the end of a run (end time, outcome, reason, firmware, instrument
                    identities), at most one per run, carrying the owner's token — a run without
                    one was killed: it reads as ``aborted`` until it is closed as
                    ``aborted (lost)`` (see :mod:`.integrity`);
* ``steps``         one row per test attempt (numbered: retries are rows of their own);
* ``step_ends``     the outcome of a test attempt;
* ``measurements``  one row per measured value with its limits and verdict, committed at once;
* ``duts``          firmware sha256 and the version read back from each DUT a run booted;
* ``instruments``   instrument identities seen by a run;
* ``attachments``   files a step left (console logs...), by path, size and sha256;
* ``prompts``       every question a test put to the operator (``operator`` fixture), with its
                    answer, who gave it and when, or why there was none (timeout, stopped).

Every row but ``meta``'s carries its place in its run's hash chain (``chain_seq``,
``chain_prev``, ``chain_hash``: see :mod:`.integrity`). A run that has ended takes no more rows.
:func:`open_store` installs the guards (triggers) and, on PostgreSQL, grants the role
:data:`STATION_ROLE` INSERT and SELECT only.
"""

from __future__ import annotations

import hashlib
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
    UniqueConstraint,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError

from ..errors import ConfigError, HarnessError

SCHEMA_VERSION = 3  # 2: hash chain, run owners, run_ends.reason, step_ends.run_id
#                    3: operator prompts
# what each version brought, for the message that refuses an older store
SCHEMA_CHANGES = {2: "hash-chained rows", 3: "operator prompts"}
DEFAULT_URL = "sqlite:///results/harness.db"

metadata = MetaData()


def _id() -> Column:
    return Column("id", Integer, primary_key=True, autoincrement=True)


def _run_fk() -> Column:
    return Column("run_id", Integer, ForeignKey("runs.id"), nullable=False, index=True)


def _step_fk(nullable: bool = True) -> Column:
    return Column("step_id", Integer, ForeignKey("steps.id"), nullable=nullable, index=True)


def _chain(name: str, per_run: bool = True) -> list:
    """A row's place in its run's hash chain (:mod:`.integrity`); one position per run."""
    cols: list = [Column("chain_seq", Integer, nullable=False),
                  Column("chain_prev", Text, nullable=False),
                  Column("chain_hash", String(64), nullable=False)]
    if per_run:
        cols.append(UniqueConstraint("run_id", "chain_seq", name=f"{name}_chain_seq"))
    return cols


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
    Column("pid_start", Text, nullable=False),  # "<boot id>/<start ticks>" on Linux, else ""
    Column("owner_sha256", String(64), nullable=False),  # of the token the owner keeps
    Column("started_ms", BigInteger, nullable=False),
    *_chain("runs", per_run=False),
    sqlite_autoincrement=True,  # an id is never given twice, a deleted one neither
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
    Column("reason", Text, nullable=False),
    Column("owner_token", String(64)),  # NULL only for outcome LOST
    *_chain("run_ends", per_run=False),  # run_id is the key: one end per run
)

steps = Table(
    "steps", metadata, _id(), _run_fk(),
    Column("nodeid", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("started_ms", BigInteger, nullable=False),
    *_chain("steps"),
    sqlite_autoincrement=True,  # an id is never given twice, a deleted one neither
)

step_ends = Table(
    "step_ends", metadata,
    Column("step_id", Integer, ForeignKey("steps.id"), primary_key=True),
    _run_fk(),
    Column("ended_ms", BigInteger, nullable=False),
    Column("outcome", String(16), nullable=False),  # passed failed error skipped flaky
    Column("message", Text, nullable=False),
    *_chain("step_ends"),
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
    *_chain("measurements"),
    sqlite_autoincrement=True,  # an id is never given twice, a deleted one neither
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
    *_chain("duts"),
    sqlite_autoincrement=True,  # an id is never given twice, a deleted one neither
)

instruments = Table(
    "instruments", metadata, _id(), _run_fk(), _step_fk(),
    Column("name", Text, nullable=False),
    Column("identity", Text, nullable=False),
    Column("seen_ms", BigInteger, nullable=False),
    *_chain("instruments"),
    sqlite_autoincrement=True,  # an id is never given twice, a deleted one neither
)

attachments = Table(
    "attachments", metadata, _id(), _run_fk(), _step_fk(),
    Column("name", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    *_chain("attachments"),
    sqlite_autoincrement=True,  # an id is never given twice, a deleted one neither
)

prompts = Table(
    "prompts", metadata, _id(), _run_fk(), _step_fk(),
    Column("name", String(128), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # confirm number choose
    Column("text", Text, nullable=False),
    Column("answer_text", Text, nullable=False),  # as the test got it; '' without an answer
    Column("value", Float),  # number: the value answered
    Column("unit", String(16), nullable=False),
    Column("low", Float),  # number: its limits (inclusive), NULL: open
    Column("high", Float),
    Column("outcome", String(16), nullable=False),  # answered declined timeout stopped
    Column("operator", Text, nullable=False),  # who (or what) answered
    Column("asked_ms", BigInteger, nullable=False),
    Column("answered_ms", BigInteger),
    *_chain("prompts"),
    sqlite_autoincrement=True,  # an id is never given twice, a deleted one neither
)

APPEND_ONLY = [t.name for t in metadata.sorted_tables]
CHAINED = [runs, steps, step_ends, measurements, duts, instruments, attachments, prompts,
           run_ends]
OF_A_RUN = [t for t in CHAINED if t is not runs and t is not run_ends]  # refused after its end
LOST = "aborted (lost)"  # the outcome of a run closed by another process: its owner is gone
STATION_ROLE = "harness_station"  # PostgreSQL: INSERT and SELECT on the records, nothing else


def now_ms() -> int:
    return int(time.time() * 1000)


def float_or_none(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


class RecordError(HarnessError):
    pass


class StoreAway(RecordError):
    """The store's server stopped answering while the store was being opened."""


def sha256_hex(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # the run_ends trigger checks the owner's token with it (a connection without it cannot
    # write a run's end at all)
    dbapi_conn.create_function("harness_sha256", 1, sha256_hex, deterministic=True)
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


_SQLITE_GUARD = """CREATE TRIGGER {t}_append_only_{op} BEFORE {OP} ON {t}
BEGIN SELECT RAISE(ABORT, 'records are append-only: {OP} on {t} refused'); END"""
_SQLITE_OPEN = """CREATE TRIGGER {t}_run_open BEFORE INSERT ON {t}
WHEN EXISTS (SELECT 1 FROM run_ends WHERE run_id = NEW.run_id)
BEGIN SELECT RAISE(ABORT, 'the run has ended: no more rows of it in {t}'); END"""
_SQLITE_OWNER = (f"""CREATE TRIGGER run_ends_owner BEFORE INSERT ON run_ends
WHEN NOT ((NEW.owner_token IS NULL AND NEW.outcome = '{LOST}') OR EXISTS (SELECT 1 FROM runs
  WHERE id = NEW.run_id AND owner_sha256 = harness_sha256(NEW.owner_token)))
BEGIN SELECT RAISE(ABORT, 'the end of a run refused: not written by the process that owns """
                 f"""the run (only {LOST} may be written without its token)'); END""")

PG_FUNCTIONS = {  # name: body (plpgsql)
    "harness_append_only": """
BEGIN RAISE EXCEPTION 'records are append-only: % on % refused', TG_OP, TG_TABLE_NAME; END
""", "harness_run_open": """
BEGIN
  IF EXISTS (SELECT 1 FROM run_ends WHERE run_id = NEW.run_id) THEN
    RAISE EXCEPTION 'run % has ended: no more rows of it in %', NEW.run_id, TG_TABLE_NAME;
  END IF;
  RETURN NEW;
END
""", "harness_run_end_owner": f"""
BEGIN
  IF (NEW.owner_token IS NULL AND NEW.outcome = '{LOST}') OR EXISTS (SELECT 1 FROM runs
      WHERE id = NEW.run_id
      AND owner_sha256 = encode(sha256(convert_to(NEW.owner_token, 'UTF8')), 'hex')) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'the end of run % refused: not written by the process that owns the run '
                  '(only {LOST} may be written without its token)', NEW.run_id;
END
"""}


def guards(dialect: str) -> dict[str, tuple[str, str]]:
    """The triggers that keep the records append-only: {name: (table, definition)}; the
    definition is the CREATE statement on SQLite (as ``sqlite_master`` keeps it), the clause
    after the name on PostgreSQL."""
    out: dict[str, tuple[str, str]] = {}
    if dialect == "sqlite":  # no TRUNCATE: a DELETE of every row fires the delete trigger too
        for t in APPEND_ONLY:
            for op in ("update", "delete"):
                out[f"{t}_append_only_{op}"] = (t, _SQLITE_GUARD.format(t=t, op=op,
                                                                        OP=op.upper()))
        for table in OF_A_RUN:
            out[f"{table.name}_run_open"] = (table.name, _SQLITE_OPEN.format(t=table.name))
        out["run_ends_owner"] = ("run_ends", _SQLITE_OWNER)
        return out
    for t in APPEND_ONLY:
        out[f"{t}_append_only"] = (t, f"BEFORE UPDATE OR DELETE ON {t} FOR EACH ROW "
                                      f"EXECUTE FUNCTION harness_append_only()")
        out[f"{t}_no_truncate"] = (t, f"BEFORE TRUNCATE ON {t} FOR EACH STATEMENT "
                                      f"EXECUTE FUNCTION harness_append_only()")
    for table in OF_A_RUN:
        out[f"{table.name}_run_open"] = (table.name, f"BEFORE INSERT ON {table.name} FOR EACH "
                                                     f"ROW EXECUTE FUNCTION harness_run_open()")
    out["run_ends_owner"] = ("run_ends", "BEFORE INSERT ON run_ends FOR EACH ROW "
                                         "EXECUTE FUNCTION harness_run_end_owner()")
    return out


def _install_guards(conn, dialect: str) -> None:
    if dialect == "sqlite":
        for _table, create in guards(dialect).values():
            conn.execute(text(create))
        return
    for name, body in PG_FUNCTIONS.items():
        conn.execute(text(f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger "
                          f"AS $${body}$$ LANGUAGE plpgsql"))
    for name, (t, fired) in guards(dialect).items():
        conn.execute(text(f"CREATE TRIGGER {name} {fired}"))
        # fired in every session, a replica's too (session_replication_role = replica)
        conn.execute(text(f"ALTER TABLE {t} ENABLE ALWAYS TRIGGER {name}"))
    grant_station_role(conn)


def grant_station_role(conn) -> bool:
    """PostgreSQL: the role :data:`STATION_ROLE` may INSERT and SELECT the records, nothing
    else; created when the connecting user may create roles (a site's DBA does it otherwise:
    see README, "Record integrity"). Whether the role exists (and was granted the records)."""
    role = STATION_ROLE
    exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
    if exists is None:
        may = conn.execute(text("SELECT rolsuper OR rolcreaterole FROM pg_roles "
                                "WHERE rolname = current_user")).scalar()
        if not may:
            return False
        # roles are per server: a store created at the same time in another database may
        # create it first
        conn.execute(text(f"""DO $$ BEGIN CREATE ROLE {role} NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"""))
    schema = conn.execute(text("SELECT current_schema()")).scalar()
    if not conn.execute(text("SELECT has_schema_privilege(:r, :s, 'USAGE')"),
                        {"r": role, "s": schema}).scalar():
        conn.execute(text(f"GRANT USAGE ON SCHEMA {conn.dialect.identifier_preparer.quote(schema)}"
                          f" TO {role}"))
    for t in APPEND_ONLY:
        conn.execute(text(f"GRANT SELECT, INSERT ON {t} TO {role}"))
        seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": t}).scalar() \
            if "id" in metadata.tables[t].c else None
        if seq:
            conn.execute(text(f"GRANT USAGE ON SEQUENCE {seq} TO {role}"))
    return True


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
                raise RecordError(version_refused(where, version))
    except (OperationalError, ProgrammingError) as exc:
        if isinstance(exc, OperationalError) and engine.dialect.name == "postgresql":
            # the server went away while the schema was checked (a restart): worth a retry
            raise StoreAway(f"{where}: cannot open the record store: "
                            f"{str(exc.orig).strip() or exc}") from None
        raise RecordError(f"{where}: cannot open the record store: "
                          f"{str(exc.orig).strip() or exc}") from None


def version_refused(where: str, version: str) -> str:
    """Why a store of another schema version is not opened (records are never migrated)."""
    try:
        older = int(version) < SCHEMA_VERSION
    except ValueError:
        older = False
    if older:
        since = ", ".join(what for v, what in sorted(SCHEMA_CHANGES.items()) if v > int(version))
        return (f"{where}: record schema version {version}, written by an older harness; this "
                f"harness writes version {SCHEMA_VERSION} ({since}) and does not "
                f"migrate records: keep that database for reading with the harness that wrote "
                f"it and give a new --db")
    return (f"{where}: record schema version {version}, this harness writes version "
            f"{SCHEMA_VERSION}; use another database")


# -- reading ------------------------------------------------------------------------------
def run_rows(conn, serial: str | None = None, run_id: int | None = None) -> list[dict]:
    """Runs joined with their ends; a run without an end reads as ``aborted``."""
    q = select(runs, run_ends.c.ended_ms, run_ends.c.outcome, run_ends.c.reason,
               run_ends.c.firmware_sha256, run_ends.c.firmware_version,
               run_ends.c.instruments, run_ends.c.tests, run_ends.c.failed,
               run_ends.c.errors).select_from(
        runs.outerjoin(run_ends, run_ends.c.run_id == runs.c.id)).order_by(runs.c.id)
    if serial is not None:
        q = q.where(runs.c.serial == serial)
    if run_id is not None:
        q = q.where(runs.c.id == run_id)
    out = []
    for r in conn.execute(q).mappings():
        row = dict(r)
        if row["outcome"] is None:
            row["outcome"], row["reason"] = "aborted", ""
            row.update(end_facts(conn, row["id"]))
        row["instruments"] = json.loads(row["instruments"] or "{}")
        out.append(row)
    return out


def end_facts(conn, run_id: int) -> dict:
    """What a run's end says of it, from its rows: the first DUT's firmware and the
    instruments seen (``instruments`` as JSON text)."""
    first = conn.execute(select(duts.c.firmware_sha256, duts.c.firmware_version)
                         .where(duts.c.run_id == run_id).order_by(duts.c.id).limit(1)).first()
    inst = conn.execute(select(instruments.c.name, instruments.c.identity)
                        .where(instruments.c.run_id == run_id)).all()
    return {"firmware_sha256": first[0] if first else None,
            "firmware_version": first[1] if first else None,
            "instruments": json.dumps(dict(inst), sort_keys=True)}


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
    asked = _rows(conn, select(prompts).where(prompts.c.run_id == run_id)
                  .order_by(prompts.c.id))
    by_step: dict[int | None, dict] = {}
    for s in step_list:
        s["outcome"] = s["outcome"] or "aborted"
        s["measurements"], s["attachments"], s["prompts"] = [], [], []
        by_step[s["id"]] = s
    loose: dict = {"measurements": [], "attachments": [], "prompts": []}
    for m in ms:
        m["value"] = float(m["value_text"])
        by_step.get(m["step_id"], loose)["measurements"].append(m)
    for a in att:
        by_step.get(a["step_id"], loose)["attachments"].append(a)
    for p in asked:
        by_step.get(p["step_id"], loose)["prompts"].append(p)
    run["duts"] = _rows(conn, select(duts).where(duts.c.run_id == run_id).order_by(duts.c.id))
    run["steps"] = step_list
    run["run_measurements"] = loose["measurements"]
    run["run_attachments"] = loose["attachments"]
    run["run_prompts"] = loose["prompts"]
    return run


def latest_values(conn, product: str, per_name: int) -> dict[str, list[tuple]]:
    """Measurement name → its latest ``per_name`` values of ``product`` as ``(value, unit,
    low, high)``, oldest first, from runs that ended and were not aborted (the panel's
    capability)."""
    rows = conn.execute(
        select(measurements.c.name, measurements.c.value, measurements.c.unit,
               measurements.c.low, measurements.c.high)
        .select_from(measurements.join(runs, runs.c.id == measurements.c.run_id)
                     .join(run_ends, run_ends.c.run_id == runs.c.id))
        .where(runs.c.product == product)
        .where(~run_ends.c.outcome.like("aborted%"))
        .where(measurements.c.value.is_not(None))
        .order_by(measurements.c.id.desc()).limit(400 * per_name)).all()
    out: dict[str, list[tuple]] = {}
    for name, value, unit, low, high in rows:
        got = out.setdefault(name, [])
        if len(got) < per_name:
            got.append((value, unit, low, high))
    return {name: got[::-1] for name, got in out.items()}


def next_run_attempt(conn, serial: str) -> int:
    n = conn.execute(select(func.count()).select_from(runs).where(runs.c.serial == serial))
    return int(n.scalar() or 0) + 1
