"""One run's writer. Every call is its own committed transaction: what returned is on disk.

There are no update methods: a run, a test attempt and a measurement are inserted once; their
ends are further rows. A process killed at any point leaves every row written before it.

A store that goes away for a while (a PostgreSQL server restarting) delays writes, it does not
lose them: a write that fails for want of a connection is retried, on a new connection, until
the store answers or :attr:`Recorder.wait` seconds have passed. A write whose commit was cut off
may have landed: before it is tried again the recorder looks for the row it wrote (a run writes
its rows from one recorder only, so the row at the next place of the run's hash chain is that
row) and never inserts it twice; the row is built from the chain's last link before the first
try, so a retry writes the same place and the chain never forks (:mod:`.integrity`). The run's
end carries a token only this recorder knows (the run stores its sha256): no other process can
write it, except to close a run whose owner is gone as ``aborted (lost)``. A store that does
not come back in time, or any other failed write, leaves the recorder :attr:`~Recorder.lost`:
every later write raises at once, every row written before stays, and the run ends as an error
naming the store and the write.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, CursorResult, Engine, Table, func, select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from . import records as R
from .integrity import Link, Owner, link_of, seal
from .limits import LimitSet, Verdict

T = TypeVar("T")

DEFAULT_WAIT = 30.0  # s a write waits for a store that went away (times the run's factor)
ENV_WAIT = "HARNESS_DB_WAIT"  # s, as given: how long instead (the station sets it per unit)
_PAUSE = (0.1, 1.0)  # s between tries: first, then doubling up to the second


@dataclass(frozen=True)
class RunInfo:
    serial: str
    product: str
    part_number: str
    station: str
    slot: int
    operator: str
    limits: LimitSet | None = None


def harness_git(root: Path) -> str:
    """The harness checkout's commit (``+dirty`` when it has local changes), else 'unknown'."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "-uno"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def new_id(result: CursorResult[Any]) -> int:
    """The id a single-row INSERT gave its row (its table's autoincrement primary key)."""
    key = result.inserted_primary_key
    assert key is not None, "not a single-row INSERT of a table with a primary key"
    return key[0]


def check_serial(serial: str) -> str:
    """A serial number is stored verbatim, but must be text: refuse bytes that are not UTF-8."""
    try:
        serial.encode("utf-8")
    except UnicodeEncodeError:
        raise R.RecordError(f"serial number {serial!r} is not valid UTF-8") from None
    if not serial:
        raise R.RecordError("empty serial number")
    return serial


def store_name(engine: Engine) -> str:
    """The store as an operator may read it: the URL with its password masked; for a SQLite
    file, the file's path."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return str(url.database)
    return url.render_as_string(hide_password=True)


def went_away(engine: Engine, exc: DBAPIError) -> bool:
    """Whether a failed write says the store could not be reached (worth a new connection and
    another try), rather than that it refused the write. A SQLite file is not a server: its
    own waits (busy timeout) are already behind any error it gives."""
    if exc.connection_invalidated:
        return True
    # OperationalError: the server went down or is restarting; InterfaceError: the driver's
    # connection was closed under it (a pooled connection the restart cut)
    return isinstance(exc, OperationalError | InterfaceError) and engine.dialect.name != "sqlite"


def describe_failure(engine: Engine, exc: DBAPIError) -> str:
    """A failed write in an operator's words; a full disk says so whatever the driver says."""
    orig = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc).__name__
    if engine.dialect.name == "sqlite" and "database or disk is full" in orig:
        return f"{os.strerror(errno.ENOSPC).lower()} (SQLite: {orig})"
    return orig


def open_waiting(url: str, wait: float,
                 on_wait: Callable[[str, str], None] | None = None) -> Engine:
    """:func:`records.open_store`, after waiting up to ``wait`` s for a store server that does
    not answer yet (one restarting as the run starts)."""
    engine = R.make_engine(url)
    deadline = time.monotonic() + wait
    pause, told = _PAUSE[0], False
    try:
        while True:
            try:
                if engine.dialect.name == "sqlite":
                    return R.open_store(url)
                with engine.connect():
                    pass
                return R.open_store(url)
            except R.RecordError as exc:
                # refused by a store that answers (a schema from another version...), or the
                # store went away between the check and the opening (a restart): wait again
                away = isinstance(exc, R.StoreAway) or not _answers(engine)
                if engine.dialect.name == "sqlite" or time.monotonic() >= deadline or not away:
                    raise
                why = "the store went away while it was being opened"
            except DBAPIError as exc:
                why = describe_failure(engine, exc)
                away = went_away(engine, exc)
                if not away or time.monotonic() >= deadline:
                    waited = f" (unreachable for {wait:g} s)" if away else ""
                    raise R.RecordError(f"record store {store_name(engine)}{waited}: opening "
                                        f"it failed: {why}") from None
            if not told and on_wait is not None:
                on_wait("opening the record store", why)
                told = True
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, _PAUSE[1])
    finally:
        engine.dispose()


def _answers(engine: Engine) -> bool:
    """Whether the store takes a connection now."""
    try:
        with engine.connect():
            return True
    except DBAPIError:
        return False


@dataclass
class Recorder:
    engine: Engine
    run_id: int
    info: RunInfo
    wait: float = DEFAULT_WAIT
    on_wait: Callable[[str, str], None] | None = None  # (what, why): a write is waiting
    lost: str | None = None  # why this run's record cannot be written any more
    _nodeids: dict[int, str] = field(default_factory=dict)
    _head: Link | None = None  # the run's newest row: the next one links to it
    _token: str = field(default="", repr=False)  # its sha256 is the run's owner_sha256

    @classmethod
    def start(cls, engine: Engine, info: RunInfo, git: str = "unknown", *,
              wait: float = DEFAULT_WAIT,
              on_wait: Callable[[str, str], None] | None = None) -> Recorder:
        from .. import __version__

        check_serial(info.serial)
        lim = info.limits
        owner = Owner.current()
        token = secrets.token_hex(32)
        row = dict(serial=info.serial, product=info.product, part_number=info.part_number,
                   station=info.station, slot=info.slot, operator=info.operator,
                   harness_version=__version__, harness_git=git,
                   limits_path=str(lim.path) if lim else None,
                   limits_version=lim.version if lim else None,
                   limits_sha256=lim.sha256 if lim else None,
                   host=owner.host, pid=owner.pid, pid_start=owner.start,
                   owner_sha256=R.sha256_hex(token), started_ms=R.now_ms())

        def insert(conn: Connection) -> Link:
            values = seal(R.runs, dict(row, attempt=R.next_run_attempt(conn, info.serial)), None)
            return link_of(R.runs, dict(values, id=new_id(conn.execute(
                R.runs.insert().values(**values)))))

        def landed(conn: Connection) -> Link | None:
            found = conn.execute(select(R.runs).where(
                R.runs.c.owner_sha256 == row["owner_sha256"])).mappings().first()
            return link_of(R.runs, found) if found is not None else None

        rec = cls(engine, 0, info, wait=wait, on_wait=on_wait, _token=token)
        rec._head = rec._write(f"starting the run of {info.serial}", insert, landed)
        rec.run_id = rec._head.key
        return rec

    @property
    def chain_end(self) -> str:
        """The last link of the run's chain (``<table>:<key>:<sha256>``): kept elsewhere, it
        shows whether rows were removed from the run's end (see :mod:`.integrity`)."""
        return str(self._head) if self._head is not None else ""

    # -- writing -----------------------------------------------------------------------------
    def _write(self, what: str, write: Callable[[Connection], T],
               landed: Callable[[Connection], T | None]) -> T:
        """``write`` in a transaction of its own, tried again on a new connection while the
        store is away (at most :attr:`wait` s); ``landed`` finds what an earlier try whose
        commit was cut off wrote. Raises :class:`RecordError` naming the store and ``what``."""
        if self.lost is not None:
            raise R.RecordError(self.lost)
        deadline: float | None = None
        pause, tries = _PAUSE[0], 0
        while True:
            try:
                with self.engine.begin() as conn:
                    if tries:
                        found = landed(conn)
                        if found is not None:
                            return found
                    return write(conn)
            except DBAPIError as exc:
                tries += 1
                why = describe_failure(self.engine, exc)
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.wait
                if not went_away(self.engine, exc) or now >= deadline:
                    waited = (f" (unreachable for {self.wait:g} s)"
                              if went_away(self.engine, exc) else "")
                    self.lost = (f"record store {store_name(self.engine)}{waited}: {what} "
                                 f"failed: {why}")
                    raise R.RecordError(self.lost) from None
                if tries == 1 and self.on_wait is not None:
                    self.on_wait(what, why)
                time.sleep(min(pause, max(0.0, deadline - now)))
                pause = min(pause * 2, _PAUSE[1])

    def _append(self, conn: Connection, table: Table, prev: Link | None, **values: Any) -> Link:
        """Insert one row of this run after ``prev`` in its chain."""
        row = seal(table, dict(values, run_id=self.run_id), prev)
        result = conn.execute(table.insert().values(**row))
        if "id" in table.c:
            row["id"] = new_id(result)
        return link_of(table, row)

    def _landed(self, table: Table) -> Callable[[Connection], Link | None]:
        """``landed`` for one row of this run in ``table``: the one at the chain's next place
        (a run writes its rows from this recorder only)."""
        seq = self._head.seq + 1 if self._head is not None else 0

        def landed(conn: Connection) -> Link | None:
            found = conn.execute(select(table).where(
                (table.c.run_id == self.run_id) & (table.c.chain_seq == seq))).mappings().first()
            return link_of(table, found) if found is not None else None

        return landed

    def _insert_one(self, what: str, table: Table, **values: Any) -> int:
        head = self._head
        self._head = self._write(what, lambda conn: self._append(conn, table, head, **values),
                                 self._landed(table))
        return self._head.key

    def _of(self, step_id: int | None) -> str:
        return f" of {self._nodeids[step_id]}" if step_id in self._nodeids else ""

    # -- steps (test attempts) ---------------------------------------------------------------
    def start_step(self, nodeid: str) -> int:
        started = R.now_ms()
        head = self._head

        def insert(conn: Connection) -> Link:
            n = conn.execute(select(func.count()).select_from(R.steps).where(
                (R.steps.c.run_id == self.run_id) & (R.steps.c.nodeid == nodeid))).scalar()
            return self._append(conn, R.steps, head, nodeid=nodeid, attempt=int(n or 0) + 1,
                                started_ms=started)

        self._head = self._write(f"starting {nodeid}", insert, self._landed(R.steps))
        self._nodeids[self._head.key] = nodeid
        return self._head.key

    def end_step(self, step_id: int, outcome: str, message: str = "", *,
                 instruments: dict[str, str] | None = None,
                 files: Sequence[tuple[str, Path]] = ()) -> None:
        """The end of a test attempt, with what it saw (instruments) and left (files): one
        transaction, chained in that order: attachments, instruments, the end."""
        rows = []
        for name, path in files:
            data = Path(path).read_bytes()
            rows.append(dict(step_id=step_id, name=name, path=str(Path(path).resolve()),
                             size=len(data), sha256=hashlib.sha256(data).hexdigest()))
        now = R.now_ms()
        head = self._head

        def insert(conn: Connection) -> Link:
            link = head
            for values in rows:
                link = self._append(conn, R.attachments, link, **values)
            for k, v in (instruments or {}).items():
                link = self._append(conn, R.instruments, link, step_id=step_id, name=k,
                                    identity=v, seen_ms=now)
            return self._append(conn, R.step_ends, link, step_id=step_id, ended_ms=now,
                                outcome=outcome, message=message[:20000])

        def landed(conn: Connection) -> Link | None:
            found = conn.execute(select(R.step_ends).where(R.step_ends.c.step_id == step_id)
                                 ).mappings().first()
            return link_of(R.step_ends, found) if found is not None else None

        self._head = self._write(
            f"ending {self._nodeids.get(step_id, f'step {step_id}')} ({outcome})", insert,
            landed)

    # -- what a step records -----------------------------------------------------------------
    def measurement(self, step_id: int | None, verdict: Verdict, limits_sha256: str) -> int:
        lim = verdict.limit
        return self._insert_one(
            f"recording measurement {lim.name!r} = {verdict.value!r} {lim.unit}"
            f"{self._of(step_id)}", R.measurements,
            step_id=step_id, name=lim.name, value=R.float_or_none(verdict.value),
            value_text=repr(verdict.value), unit=lim.unit, low=lim.low, high=lim.high,
            marginal=lim.marginal, outcome=verdict.outcome, limits_sha256=limits_sha256,
            taken_ms=R.now_ms())

    def dut(self, step_id: int | None, *, name: str, target: str, world: str,
            firmware_path: str, firmware_sha256: str, firmware_version: str) -> None:
        self._insert_one(f"recording DUT {name}{self._of(step_id)}", R.duts,
                         step_id=step_id, name=name, target=target, world=world,
                         firmware_path=firmware_path, firmware_sha256=firmware_sha256,
                         firmware_version=firmware_version, ready_ms=R.now_ms())

    def instrument(self, step_id: int | None, name: str, identity: str) -> None:
        self._insert_one(f"recording instrument {name}{self._of(step_id)}", R.instruments,
                         step_id=step_id, name=name, identity=identity, seen_ms=R.now_ms())

    def attach(self, step_id: int | None, name: str, path: Path) -> None:
        path = Path(path)
        data = path.read_bytes()
        self._insert_one(f"recording attachment {path}{self._of(step_id)}", R.attachments,
                         step_id=step_id, name=name, path=str(path.resolve()), size=len(data),
                         sha256=hashlib.sha256(data).hexdigest())

    def prompt(self, step_id: int | None, *, name: str, kind: str, text: str,
               answer_text: str, value: float | None, unit: str, low: float | None,
               high: float | None, outcome: str, operator: str, asked_ms: int,
               answered_ms: int | None) -> int:
        """A question put to the operator and its answer (or why there was none)."""
        return self._insert_one(
            f"recording operator prompt {name!r} ({outcome}){self._of(step_id)}", R.prompts,
            step_id=step_id, name=name, kind=kind, text=text, answer_text=answer_text,
            value=R.float_or_none(value), unit=unit, low=low, high=high, outcome=outcome,
            operator=operator, asked_ms=asked_ms, answered_ms=answered_ms)

    # -- the end -----------------------------------------------------------------------------
    def end(self, outcome: str, *, tests: int, failed: int, errors: int,
            reason: str = "") -> None:
        """The run's end: written once, by this recorder only (it carries the owner token)."""
        ended = R.now_ms()
        head = self._head

        def insert(conn: Connection) -> Link:
            return self._append(conn, R.run_ends, head, ended_ms=ended, outcome=outcome,
                                reason=reason, tests=tests, failed=failed, errors=errors,
                                owner_token=self._token, **R.end_facts(conn, self.run_id))

        def landed(conn: Connection) -> Link | None:
            found = conn.execute(select(R.run_ends).where(R.run_ends.c.run_id == self.run_id)
                                 ).mappings().first()
            return link_of(R.run_ends, found) if found is not None else None

        self._head = self._write(f"ending the run ({outcome})", insert, landed)
