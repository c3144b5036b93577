"""Record integrity: each run's rows form a hash chain, and :func:`verify` says which rows were
edited, deleted or inserted behind the harness's back.

**The chain.** A run's ``runs`` row is the head of its chain (``chain_seq`` 0, ``chain_prev``
empty); every later row of the run — in ``steps``, ``step_ends``, ``measurements``, ``duts``,
``instruments``, ``attachments``, ``prompts`` and finally ``run_ends`` — takes the next
``chain_seq`` in the order it was inserted, and ``chain_prev`` names the row before it as
``<table>:<key>:<hash>`` (the key is the row's primary key: ``id``, or ``step_id`` for
``step_ends`` and ``run_id`` for ``run_ends``). ``chain_hash`` is the lower-case hex sha256 of
the row's canonical encoding:

* a JSON object of every column of the row except ``id`` and ``chain_hash`` (so ``chain_seq``
  and ``chain_prev`` are in it), plus ``"@table": <table name>``;
* keys sorted, separators ``,`` and ``:`` without spaces, ASCII only (other characters as
  ``\\uXXXX`` escapes): Python's ``json.dumps(obj, sort_keys=True, separators=(",", ":"))``;
* NULL as ``null``, integer columns as JSON numbers, text as JSON strings, and float columns as
  JSON strings holding the shortest decimal that reads back as the same double (Python's
  ``repr``: ``"41.0"``, ``"1e-05"``, ``"inf"``, ``"nan"``).

A row's own ``id`` is sealed by the next row's ``chain_prev``; the run's id by every row's
``run_id``. The writer keeps the newest link in memory and builds each row from it before the
write, so a write tried again after a lost commit answer finds its row by ``chain_seq`` or
writes the same position again: the chain never forks.

**What verify finds.** A row whose values no longer give its hash: *edited*. A row the chain
skips (the next row links to a key that is gone): *deleted*, named by that key; when several
rows in a row are gone, the last one is named and the others counted. A row no link leads to,
a second row claiming a place, a row after the run's end, or a ``run_ends`` row whose owner
token does not hash to the run's ``owner_sha256``: *inserted*. A guard (trigger, trigger
function) missing, disabled or changed: *guard*. The chain is plain sha256 with no secret:
someone who edits a row and recomputes every hash after it, or who removes a run's last rows
together with its end, or a whole run, leaves a chain that checks; only a copy of the hashes
kept elsewhere shows that (``Recorder.chain_end`` gives the last link of a run).

**Lost runs.** A run without an end whose owner process is gone is closed by anyone as
:data:`~harness.station.records.LOST` (:func:`close_lost_runs`). The owner is known to be gone
when the run was started on this host and its pid is not running, or runs a process started at
another time (``pid_start``: boot id and start time from ``/proc``), or the machine rebooted.
A run started on another host cannot be looked at from here: it is closed only when none of its
rows is newer than ``other_hosts_after`` seconds (default :data:`LOST_AFTER`, 24 h: longer
than any unit's run).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, Float, Integer, Table, func, select, text, union
from sqlalchemy.exc import IntegrityError

from . import records as R

LOST_AFTER = 24 * 3600.0  # s without a row before a run of another host counts as lost


# -- the chain ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Link:
    """A row's place in its run's chain."""

    table: str
    key: int
    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.table}:{self.key}:{self.hash}"


@functools.cache
def _columns(table: Table) -> tuple[tuple[str, type], ...]:
    """(name, Python type) of the columns a row's hash covers: all but ``id`` and
    ``chain_hash``."""
    return tuple((c.name, float if isinstance(c.type, Float) else
                  int if isinstance(c.type, Integer) else str)
                 for c in table.c if c.name not in ("id", "chain_hash"))


def _plain(kind: type, value):
    if value is None:
        return None
    return repr(float(value)) if kind is float else kind(value)


def canonical(table: Table, values: Mapping) -> bytes:
    """The row's canonical encoding (module docstring); KeyError if a column is missing."""
    body = {name: _plain(kind, values[name]) for name, kind in _columns(table)}
    body["@table"] = table.name
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")


def row_hash(table: Table, values: Mapping) -> str:
    return hashlib.sha256(canonical(table, values)).hexdigest()


def seal(table: Table, values: Mapping, prev: Link | None) -> dict:
    """``values`` (every column but ``id`` and the chain's) as stored, placed after ``prev``
    in the run's chain, with its hash."""
    row = {name: None if values[name] is None else kind(values[name])
           for name, kind in _columns(table) if name not in ("chain_seq", "chain_prev")}
    row["chain_seq"] = prev.seq + 1 if prev is not None else 0
    row["chain_prev"] = str(prev) if prev is not None else ""
    row["chain_hash"] = row_hash(table, row)
    return row


def key_of(table: Table) -> str:
    return next(iter(table.primary_key.columns)).name


def link_of(table: Table, row: Mapping) -> Link:
    return Link(table.name, int(row[key_of(table)]), int(row["chain_seq"]), row["chain_hash"])


# -- verifying ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    run_id: int | None
    kind: str  # edited deleted inserted guard
    table: str
    key: int | str | None
    detail: str

    def __str__(self) -> str:
        what = f"{self.table} {self.key}" if self.key is not None else self.table
        run = f"run {self.run_id}: " if self.run_id is not None else ""
        return f"{run}{self.kind} {what}: {self.detail}"


@dataclass
class ChainRow:
    """A row of a run as read back: its key, its link to the row before, whether its values
    still give its hash (``sound``)."""

    table: Table
    values: dict

    def __post_init__(self) -> None:
        self.key = self.values[key_of(self.table)]
        self.ref = f"{self.table.name}:{self.key}"
        self.seq = self.values["chain_seq"]
        prev = str(self.values["chain_prev"] or "")
        self.prev_ref, _, self.prev_hash = prev.rpartition(":")
        try:
            self.sound = row_hash(self.table, self.values) == self.values["chain_hash"]
        except (ValueError, TypeError):  # a value its column's type cannot hold
            self.sound = False


def run_ids(conn: Connection, run_id: int | None = None) -> list[int]:
    """Every run id the store holds a row of (a run whose head row is gone too)."""
    if run_id is not None:
        return [run_id]
    q = union(select(R.runs.c.id), *[select(t.c.run_id) for t in R.CHAINED if t is not R.runs])
    return sorted(conn.execute(q).scalars())


def run_chain_rows(conn: Connection, run_id: int) -> list[ChainRow]:
    out = []
    for t in R.CHAINED:
        col = t.c.id if t is R.runs else t.c.run_id
        found = conn.execute(select(t).where(col == run_id)).mappings()
        out += [ChainRow(t, dict(r)) for r in found]
    return out


def check_run(run_id: int, rows: list[ChainRow]) -> list[Finding]:
    """What is wrong with one run's chain (module docstring)."""
    found: list[Finding] = []
    by_ref = {r.ref: r for r in rows}
    after: dict[str, list[ChainRow]] = {}
    for r in rows:
        after.setdefault(r.prev_ref, []).append(r)
    seen: set[str] = set()
    chain: list[ChainRow] = []

    def say(kind: str, row: ChainRow | None, detail: str, table: str = "", key=None) -> None:
        found.append(Finding(run_id, kind, row.table.name if row else table,
                             row.key if row else key, detail))

    head = by_ref.get(f"runs:{run_id}")
    ref, seq, hsh = f"runs:{run_id}", 0, None
    if head is None:
        say("deleted", None, "the run's first row is gone", "runs", run_id)
    else:
        seen.add(head.ref)
        chain.append(head)
        hsh = head.values["chain_hash"]
    while not chain or chain[-1].table is not R.run_ends:  # nothing follows a run's end
        linked = [r for r in after.get(ref, []) if r.ref not in seen]
        nxt: ChainRow | None
        if linked:
            nxt = max(linked, key=lambda r: (r.prev_hash == hsh, r.sound, r.seq == seq + 1,
                                             bool(after.get(r.ref)), -int(r.key)))
            prev = by_ref.get(ref)
            if hsh is not None and nxt.prev_hash != hsh and prev is not None and prev.sound:
                say("edited", prev, f"{_ref(nxt.ref)} links to it with another hash: it was "
                                    f"changed and its hash recomputed")
        else:
            nxt = _resume(rows, seen, by_ref, seq)
            if nxt is None:
                break
            if nxt.seq != seq + 1:
                gone = nxt.seq - seq - 1
                more = "" if gone == 1 else \
                    f"; the row before it is gone too (chain position {seq + 1})" if gone == 2 \
                    else f"; {gone - 1} rows before it are gone too (chain positions " \
                         f"{seq + 1}-{nxt.seq - 2})"
                table, _, key = nxt.prev_ref.partition(":")
                there = " (another row has its key now)" if nxt.prev_ref in by_ref else ""
                say("deleted", None, f"{_ref(nxt.ref)} links to it{there}{more}", table,
                    int(key))
            elif nxt.sound:
                say("edited", nxt, f"it links to {_ref(nxt.prev_ref)} instead of {_ref(ref)}: "
                                   f"it was changed and its hash recomputed")
        seen.add(nxt.ref)
        chain.append(nxt)
        ref, seq, hsh = nxt.ref, nxt.seq, nxt.values["chain_hash"]
    for r in chain:
        if not r.sound:
            say("edited", r, "its values no longer give its hash")
    end = chain[-1] if chain and chain[-1].table is R.run_ends else None
    for r in rows:
        if r.ref not in seen:
            say("inserted", r, "written after the run's end" if end is not None and
                r.seq > end.seq else "no link of the run's chain leads to it")
    if end is not None and not _owner_wrote(end, head):
        say("inserted", end, "not written by the process that owns the run (its owner token "
                             "does not match)")
    return found


def _resume(rows: list[ChainRow], seen: set[str], by_ref: dict, seq: int) -> ChainRow | None:
    """Where the chain goes on when nothing links to its last row: the row at the next place
    (its link was changed), else the first row after a gap that links to a row that is gone."""
    unseen = [r for r in rows if r.ref not in seen]
    at_next = [r for r in unseen if r.seq == seq + 1]
    if at_next:
        return max(at_next, key=lambda r: (r.sound, -int(r.key)))
    later = [r for r in unseen if r.seq > seq + 1 and _dangling(r, by_ref)]
    return min(later, key=lambda r: (r.seq, not r.sound)) if later else None


def _dangling(row: ChainRow, by_ref: dict[str, ChainRow]) -> bool:
    """Whether ``row`` links to a row that is gone (or whose key another row has now)."""
    table, _, key = row.prev_ref.partition(":")
    if table not in R.metadata.tables or not key.isdigit():
        return False
    there = by_ref.get(row.prev_ref)
    return there is None or there.values["chain_hash"] != row.prev_hash


def _ref(ref: str) -> str:
    return ref.replace(":", " ", 1) if ref else "nothing"


def _owner_wrote(end: ChainRow, head: ChainRow | None) -> bool:
    token = end.values["owner_token"]
    if token is None:
        return end.values["outcome"] == R.LOST
    return head is not None and R.sha256_hex(token) == head.values["owner_sha256"]


def check_guards(conn: Connection) -> list[Finding]:
    """The triggers (and on PostgreSQL their functions) that keep the store append-only, as
    :func:`~harness.station.records.open_store` installed them."""
    dialect = conn.dialect.name
    want = R.guards(dialect)
    found: list[Finding] = []
    if dialect == "sqlite":
        have: dict[str, str] = {name: sql for name, sql in conn.execute(text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))}
        for name, (table, create) in want.items():
            if name not in have:
                found.append(Finding(None, "guard", table, None, f"trigger {name} is gone"))
            elif have[name] != create:
                found.append(Finding(None, "guard", table, None, f"trigger {name} was changed"))
        return found
    have_pg = {name: (enabled, func_name) for name, enabled, func_name in conn.execute(text(
        "SELECT t.tgname, t.tgenabled, p.proname FROM pg_trigger t JOIN pg_proc p "
        "ON p.oid = t.tgfoid WHERE NOT t.tgisinternal"))}
    for name, (table, fired) in want.items():
        enabled, func_name = have_pg.get(name, (None, None))
        if enabled is None:
            found.append(Finding(None, "guard", table, None, f"trigger {name} is gone"))
        elif func_name is None or not fired.endswith(f"FUNCTION {func_name}()"):
            found.append(Finding(None, "guard", table, None, f"trigger {name} was changed"))
        elif enabled != "A":
            found.append(Finding(None, "guard", table, None, f"trigger {name} is " + (
                "disabled" if enabled == "D" else "no longer fired in every session (it was "
                "disabled and enabled again)")))
    bodies: dict[str, str] = {name: src for name, src in conn.execute(text(
        "SELECT proname, prosrc FROM pg_proc WHERE proname LIKE 'harness\\_%'"))}
    for name, body in R.PG_FUNCTIONS.items():
        if bodies.get(name) != body:
            found.append(Finding(None, "guard", name, None, "trigger function is gone" if name
                                 not in bodies else "trigger function was changed"))
    return found


@dataclass
class Verified:
    runs: int
    rows: int
    findings: list[Finding]

    @property
    def clean(self) -> bool:
        return not self.findings


def verify(engine: Engine, run_id: int | None = None) -> Verified:
    """Check every run's chain (or ``run_id``'s) and the store's guards, in one snapshot."""
    opts = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
    with engine.connect().execution_options(**opts) as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN")  # one snapshot for every read below
        found = check_guards(conn)
        runs = rows = 0
        for rid in run_ids(conn, run_id):
            chain_rows = run_chain_rows(conn, rid)
            runs, rows = runs + (1 if chain_rows else 0), rows + len(chain_rows)
            if chain_rows:
                found += check_run(rid, chain_rows)
        if run_id is not None and not rows:
            raise R.RecordError(f"no run with id {run_id}")
    return Verified(runs, rows, found)


# -- runs nobody will end --------------------------------------------------------------------
@dataclass(frozen=True)
class Owner:
    """The process that writes a run."""

    host: str
    pid: int
    start: str  # "<boot id>/<start time in clock ticks>", "" where /proc does not say

    @classmethod
    def current(cls) -> Owner:
        return cls(socket.gethostname(), os.getpid(), process_start(os.getpid()) or "")

    def gone(self) -> bool:
        """On this host: whether the process is no longer running (or a later one has its
        pid)."""
        now = process_start(self.pid)
        if now is not None:
            return now != self.start if self.start else False
        if Path("/proc/self/stat").exists():
            return True  # no such process (or a zombie: it ended, its parent has not waited)
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


def process_start(pid: int) -> str | None:
    """``<boot id>/<start ticks>`` of a running process on Linux, else None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None
    return f"{boot}/{fields[19]}"


def last_activity_ms(conn: Connection, run_id: int, started_ms: int) -> int:
    newest = [started_ms]
    for t, col in ((R.steps, "started_ms"), (R.step_ends, "ended_ms"),
                   (R.measurements, "taken_ms"), (R.duts, "ready_ms"),
                   (R.instruments, "seen_ms"), (R.prompts, "asked_ms"),
                   (R.prompts, "answered_ms")):
        newest.append(conn.execute(select(func.max(t.c[col]))
                                   .where(t.c.run_id == run_id)).scalar() or 0)
    return max(newest)


def lost_runs(conn: Connection, *, run_id: int | None = None,
              other_hosts_after: float = LOST_AFTER) -> list[tuple[int, str]]:
    """(run id, why) of every run without an end whose owner is gone (module docstring)."""
    q = select(R.runs.c.id, R.runs.c.host, R.runs.c.pid, R.runs.c.pid_start,
               R.runs.c.started_ms).select_from(R.runs.outerjoin(
                   R.run_ends, R.run_ends.c.run_id == R.runs.c.id)).where(
        R.run_ends.c.run_id.is_(None)).order_by(R.runs.c.id)
    if run_id is not None:
        q = q.where(R.runs.c.id == run_id)
    here = socket.gethostname()
    out = []
    for rid, host, pid, start, started in conn.execute(q).all():
        if host == here:
            if Owner(host, pid, start).gone():
                out.append((rid, f"its process {pid} on {host} is gone"))
            continue
        quiet = (R.now_ms() - last_activity_ms(conn, rid, started)) / 1000.0
        if quiet > other_hosts_after:
            out.append((rid, f"its process {pid} on {host} wrote nothing for {quiet / 3600:.1f} "
                             f"h"))
    return out


def close_run(conn: Connection, run_id: int, reason: str) -> None:
    """Write ``run_id``'s end as :data:`~harness.station.records.LOST`, linked to the last
    row of its chain."""
    tail: Link | None = None
    for t in R.CHAINED:
        col = t.c.id if t is R.runs else t.c.run_id
        row = conn.execute(select(t).where(col == run_id).order_by(t.c.chain_seq.desc())
                           .limit(1)).mappings().first()
        if row is not None and (tail is None or row["chain_seq"] > tail.seq):
            tail = link_of(t, row)
    steps = conn.execute(select(R.steps.c.nodeid, R.step_ends.c.outcome).select_from(
        R.steps.outerjoin(R.step_ends, R.step_ends.c.step_id == R.steps.c.id))
        .where(R.steps.c.run_id == run_id).order_by(R.steps.c.id)).all()
    final = dict(steps)  # a test's last attempt counts; one cut off by the loss is an error
    values = dict(run_id=run_id, ended_ms=R.now_ms(), outcome=R.LOST, reason=reason,
                  tests=len(final), failed=sum(o == "failed" for o in final.values()),
                  errors=sum(o in (None, "error") for o in final.values()), owner_token=None,
                  **R.end_facts(conn, run_id))
    conn.execute(R.run_ends.insert().values(**seal(R.run_ends, values, tail)))


def close_lost_runs(engine: Engine, *, run_id: int | None = None,
                    other_hosts_after: float = LOST_AFTER,
                    on_close: Callable[[int, str], None] | None = None) -> list[int]:
    """Close every lost run (or ``run_id`` if it is lost) as ``aborted (lost)``; the ids
    closed here. A run another process closes at the same time is left to it."""
    with engine.connect() as conn:
        lost = lost_runs(conn, run_id=run_id, other_hosts_after=other_hosts_after)
    closer = f"{socket.gethostname()} pid {os.getpid()}"
    closed = []
    for rid, why in lost:
        reason = f"{why}; closed by {closer}"
        try:
            with engine.begin() as conn:
                close_run(conn, rid, reason)
        except IntegrityError:
            continue  # ended meanwhile (by its owner's last write or another closer)
        closed.append(rid)
        if on_close is not None:
            on_close(rid, reason)
    return closed
