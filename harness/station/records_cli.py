"""``harness records verify`` and ``harness records init``.

``harness/cli.py`` adds them with :func:`add_commands`; each subcommand sets
``func(args) -> int``. Also runs on its own: ``python -m harness.station.records_cli verify
--db URL``.

``verify`` first closes the runs whose owner is gone as ``aborted (lost)`` (``--list-lost``
only lists them), then checks every run's hash chain and the store's guards: one line per
edited, deleted or inserted row (run, table, id) and per guard that was removed, exit 1 when
there is any, 0 when the records are whole. A store that does not exist, or of another schema
version, is an error (exit 2): verify never creates one.
"""

from __future__ import annotations

import argparse
import sys

# SQLAlchemy (the ``station`` extra) is imported by the commands, not here: the ``harness``
# CLI adds these commands on every start, with or without that extra installed


def cmd_verify(args) -> int:
    from sqlalchemy.exc import DBAPIError

    from . import integrity
    from . import records as R
    from .stores import open_existing

    engine = open_existing(args.db)
    try:
        after = integrity.LOST_AFTER if args.lost_after is None else args.lost_after * 3600.0
        if args.list_lost:
            with engine.connect() as conn:
                for rid, why in integrity.lost_runs(conn, run_id=args.run,
                                                    other_hosts_after=after):
                    print(f"run {rid}: lost ({why}); not closed (--list-lost)")
        else:
            try:
                integrity.close_lost_runs(
                    engine, run_id=args.run, other_hosts_after=after,
                    on_close=lambda rid, why: print(f"run {rid}: closed as {R.LOST} ({why})"))
            except DBAPIError as exc:  # a reader that may not write (SELECT only)
                first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else exc
                print(f"records: lost runs not closed: {first}", file=sys.stderr)
        result = integrity.verify(engine, args.run)
    finally:
        engine.dispose()
    for finding in result.findings:
        print(finding)
    runs = {f.run_id for f in result.findings if f.run_id is not None}
    guards = sum(f.kind == "guard" for f in result.findings)
    print(f"verified {result.runs} run(s), {result.rows} row(s): " + (
        "no edited, deleted or inserted row" if result.clean else
        f"{len(result.findings) - guards} row problem(s) in {len(runs)} run(s), "
        f"{guards} guard(s) removed or changed"))
    return 0 if result.clean else 1


def cmd_init(args) -> int:
    from . import records as R

    engine = R.open_store(args.db)
    try:
        where = engine.url.render_as_string(hide_password=True)
        print(f"{where}: record store, schema version {R.SCHEMA_VERSION}")
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                granted = R.grant_station_role(conn)
            print(f"role {R.STATION_ROLE}: INSERT and SELECT on the records" if granted else
                  f"role {R.STATION_ROLE} does not exist and this user may not create it: "
                  f"have a user with CREATEROLE run this command")
    finally:
        engine.dispose()
    return 0


def _hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give hours, 0 or more")
    return value


def add_commands(sub) -> None:
    """Add ``records`` (``verify``, ``init``) to the ``harness`` CLI's subparsers."""
    rec = sub.add_parser("records", help="the record store: verify its integrity, create it")
    rec_sub = rec.add_subparsers(dest="records_cmd", required=True)
    v = rec_sub.add_parser("verify", help="find edited, deleted or inserted rows (exit 1); "
                                          "close runs whose owner is gone")
    v.add_argument("--db", required=True, help="record store URL")
    v.add_argument("--run", type=int, metavar="ID", help="only this run")
    v.add_argument("--list-lost", action="store_true",
                   help="list runs whose owner is gone instead of closing them as "
                        "'aborted (lost)'")
    v.add_argument("--lost-after", type=_hours, default=None, metavar="HOURS",
                   help="a run of another host without a row for this long is lost "
                        "(default 24 h)")
    v.set_defaults(func=cmd_verify)
    i = rec_sub.add_parser("init", help="create the record store (tables, guards, and on "
                                        "PostgreSQL the station's INSERT/SELECT role)")
    i.add_argument("--db", required=True, help="record store URL")
    i.set_defaults(func=cmd_init)


def main(argv: list[str] | None = None) -> int:
    """``python -m harness.station.records_cli verify ...``: ``harness records`` on its own."""
    from ..errors import HarnessError

    p = argparse.ArgumentParser(prog="harness")
    add_commands(p.add_subparsers(dest="cmd", required=True))
    args = p.parse_args(["records", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
