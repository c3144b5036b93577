"""One run's writer. Every call is its own committed transaction: what returned is on disk.

There are no update methods: a run, a test attempt and a measurement are inserted once; their
ends are further rows. A process killed at any point leaves every row written before it.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, Engine, func, select

from . import records as R
from .limits import LimitSet, Verdict


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


@dataclass
class Recorder:
    engine: Engine
    run_id: int
    info: RunInfo
    _attempts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def start(cls, engine: Engine, info: RunInfo, git: str = "unknown") -> Recorder:
        from .. import __version__

        check_serial(info.serial)
        lim = info.limits
        with engine.begin() as conn:
            attempt = R.next_run_attempt(conn, info.serial)
            run_id = new_id(conn.execute(R.runs.insert().values(
                serial=info.serial, product=info.product, part_number=info.part_number,
                station=info.station, slot=info.slot, operator=info.operator, attempt=attempt,
                harness_version=__version__, harness_git=git,
                limits_path=str(lim.path) if lim else None,
                limits_version=lim.version if lim else None,
                limits_sha256=lim.sha256 if lim else None,
                host=socket.gethostname(), pid=os.getpid(), started_ms=R.now_ms(),
            )))
        return cls(engine, run_id, info)

    # -- steps (test attempts) ---------------------------------------------------------------
    def start_step(self, nodeid: str) -> int:
        with self.engine.begin() as conn:
            n = conn.execute(select(func.count()).select_from(R.steps).where(
                (R.steps.c.run_id == self.run_id) & (R.steps.c.nodeid == nodeid))).scalar()
            return new_id(conn.execute(R.steps.insert().values(
                run_id=self.run_id, nodeid=nodeid, attempt=int(n or 0) + 1,
                started_ms=R.now_ms())))

    def end_step(self, step_id: int, outcome: str, message: str = "", *,
                 instruments: dict[str, str] | None = None,
                 files: Sequence[tuple[str, Path]] = ()) -> None:
        """The end of a test attempt, with what it saw (instruments) and left (files): one
        transaction."""
        rows = []
        for name, path in files:
            data = Path(path).read_bytes()
            rows.append(dict(run_id=self.run_id, step_id=step_id, name=name,
                             path=str(Path(path).resolve()), size=len(data),
                             sha256=hashlib.sha256(data).hexdigest()))
        now = R.now_ms()
        with self.engine.begin() as conn:
            if rows:
                conn.execute(R.attachments.insert(), rows)
            if instruments:
                conn.execute(R.instruments.insert(), [
                    dict(run_id=self.run_id, step_id=step_id, name=k, identity=v, seen_ms=now)
                    for k, v in instruments.items()])
            conn.execute(R.step_ends.insert().values(step_id=step_id, ended_ms=now,
                                                     outcome=outcome, message=message[:20000]))

    # -- what a step records -----------------------------------------------------------------
    def measurement(self, step_id: int | None, verdict: Verdict, limits_sha256: str) -> int:
        lim = verdict.limit
        with self.engine.begin() as conn:
            return new_id(conn.execute(R.measurements.insert().values(
                run_id=self.run_id, step_id=step_id, name=lim.name,
                value=R.float_or_none(verdict.value), value_text=repr(verdict.value),
                unit=lim.unit, low=lim.low, high=lim.high, marginal=lim.marginal,
                outcome=verdict.outcome, limits_sha256=limits_sha256, taken_ms=R.now_ms(),
            )))

    def dut(self, step_id: int | None, *, name: str, target: str, world: str,
            firmware_path: str, firmware_sha256: str, firmware_version: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(R.duts.insert().values(
                run_id=self.run_id, step_id=step_id, name=name, target=target, world=world,
                firmware_path=firmware_path, firmware_sha256=firmware_sha256,
                firmware_version=firmware_version, ready_ms=R.now_ms()))

    def instrument(self, step_id: int | None, name: str, identity: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(R.instruments.insert().values(
                run_id=self.run_id, step_id=step_id, name=name, identity=identity,
                seen_ms=R.now_ms()))

    def attach(self, step_id: int | None, name: str, path: Path) -> None:
        path = Path(path)
        data = path.read_bytes()
        with self.engine.begin() as conn:
            conn.execute(R.attachments.insert().values(
                run_id=self.run_id, step_id=step_id, name=name, path=str(path.resolve()),
                size=len(data), sha256=hashlib.sha256(data).hexdigest()))

    # -- the end -----------------------------------------------------------------------------
    def end(self, outcome: str, *, tests: int, failed: int, errors: int) -> None:
        with self.engine.begin() as conn:
            fw = conn.execute(select(R.duts.c.firmware_sha256, R.duts.c.firmware_version)
                              .where(R.duts.c.run_id == self.run_id)
                              .order_by(R.duts.c.id).limit(1)).first()
            inst = conn.execute(select(R.instruments.c.name, R.instruments.c.identity)
                                .where(R.instruments.c.run_id == self.run_id)).all()
            conn.execute(R.run_ends.insert().values(
                run_id=self.run_id, ended_ms=R.now_ms(), outcome=outcome,
                firmware_sha256=fw[0] if fw else None, firmware_version=fw[1] if fw else None,
                instruments=json.dumps(dict(inst), sort_keys=True), tests=tests,
                failed=failed, errors=errors))
