"""Opening a record store that must already exist (every command but the ones that create).

Only ``harness station run --create``, ``harness station serve --create`` and ``harness records
init`` make a store; everything else opens one with :func:`open_existing`, which creates nothing
— no file, no directory, no schema in an empty PostgreSQL database — and refuses a store of
another schema version.
"""

from __future__ import annotations

import contextlib
from pathlib import Path


def open_existing(url: str, *, create_hint: bool = False):
    """An engine on the record store at ``url``, which must exist: a SQLite file that is a
    harness record store, or a PostgreSQL database holding the schema. Nothing is created
    (no file, no directory, no schema); a missing or foreign store raises
    :class:`~harness.station.records.RecordError` naming it. ``create_hint``: say that
    ``--create`` makes one (the station)."""
    import sqlite3

    from sqlalchemy import inspect, select
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from ..errors import ConfigError
    from . import records as R

    hint = "; give --create to start a new record store there" if create_hint else ""
    try:
        u = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"--db {url!r}: not a database URL ({exc})") from None
    if u.get_backend_name() == "sqlite":
        if not u.database or u.database == ":memory:":
            raise R.RecordError(f"--db {url!r}: an in-memory database holds no records")
        path = Path(u.database)
        if not path.is_file():
            where = "no such file" if path.parent.is_dir() else \
                f"no such directory: {path.parent}"
            raise R.RecordError(f"record store {path} does not exist ({where}){hint}")
        try:  # read-only: a file that is not a record store is left exactly as it was
            with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro",
                                                    uri=True)) as conn:
                found = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'"
                                     ).fetchone()
        except sqlite3.Error as exc:
            raise R.RecordError(f"{path}: not a harness record store ({exc})") from None
        if found is None:
            raise R.RecordError(f"{path}: not a harness record store (no schema version)")
        _same_version(str(path), found[0])
        return R.make_engine(url)
    engine = R.make_engine(url)
    where = u.render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(R.meta.name):
                raise R.RecordError(f"record store {where}: the database holds no harness "
                                    f"records (no schema){hint}")
            version = conn.execute(select(R.meta.c.value)
                                   .where(R.meta.c.key == "schema_version")).scalar()
        _same_version(where, version)
    except SQLAlchemyError as exc:
        engine.dispose()
        orig = getattr(exc, "orig", None)
        why = str(orig or exc).strip().splitlines()[0]
        raise R.RecordError(f"record store {where}: cannot open it: {why}{hint}") from None
    except R.RecordError:
        engine.dispose()
        raise
    return engine


def _same_version(where: str, version: str | None) -> None:
    from . import records as R

    if version != str(R.SCHEMA_VERSION):
        raise R.RecordError(R.version_refused(where, str(version)))
