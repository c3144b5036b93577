"""``harness station run`` and ``harness report``.

Wire into ``harness/cli.py`` with ``harness.station.cli.add_commands(sub)``; each subcommand
sets ``func(args) -> int`` like the others.

Only ``harness station run --create`` makes a new record store; every command refuses a store
that does not exist (exit 2, naming it) and creates nothing — no file, no directory, no schema
in an empty PostgreSQL database (:func:`~harness.station.stores.open_existing`).
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .stores import open_existing  # noqa: F401 - also the CLI's own


# -- live progress -------------------------------------------------------------------------
@dataclass
class SlotRow:
    """One slot's line of the live table."""

    serial: str = "-"
    done: int = 0
    total: int = 0
    state: str = "idle"


class LiveProgress:
    """Station events → a live per-slot table on a terminal, else one line per event."""

    def __init__(self, slots: list[int], out=None) -> None:
        self.out = out or sys.stdout
        self.rows = {s: SlotRow() for s in slots}
        self.lock = threading.Lock()
        self.live = None
        if self.out.isatty():
            from rich.live import Live

            self.live = Live(self._table(), refresh_per_second=8, transient=True)

    def _table(self):
        from rich.table import Table

        t = Table(title="station", title_justify="left")
        for col in ("slot", "serial", "tests", "state"):
            t.add_column(col)
        for s, r in sorted(self.rows.items()):
            t.add_row(str(s), r.serial, f"{r.done}/{r.total or '?'}", r.state)
        return t

    def __call__(self, event: str, data: dict) -> None:
        from .serials import shown

        with self.lock:
            if event == "start":
                self.rows[data["slot"]] = SlotRow(serial=shown(data["serial"]), state="testing")
                self._line(f"slot {data['slot']}: start {shown(data['serial'])}"
                           + (f" (attempt {data['attempt']})" if data["attempt"] > 1 else ""))
            elif event == "progress":
                row = self.rows[data["slot"]]
                if data.get("event") == "collected":
                    row.total = data["total"]
                elif data.get("event") == "test":
                    row.done += 1
                elif data.get("event") == "store-wait":
                    row.state = "waiting for the record store"
                    self._line(f"slot {data['slot']}: record store unreachable "
                               f"({data.get('error', '')}) while {data.get('what', '')}: "
                               f"waiting up to {data.get('seconds', 0):g} s", force=True)
                elif data.get("event") == "lost":
                    row.state = "error"
                    self._line(f"slot {data['slot']}: {data.get('reason', '')}", force=True)
            elif event == "stopping":
                busy = data.get("slots") or []
                self._line(f"stopping: {data.get('reason', '')}; no further unit starts"
                           + (f"; waiting up to {data.get('grace', 0):.0f} s for slot(s) "
                              f"{', '.join(map(str, busy))} to record their end" if busy
                              else ""), force=True)
            elif event == "lost-runs":
                runs = data.get("runs") or []
                self._line(f"closed {len(runs)} run(s) whose process died without an end as "
                           f"aborted (lost): {', '.join(map(str, runs))}", force=True)
            elif event == "end":
                r = data["result"]
                self.rows[r.slot].state = r.outcome
                self._line(f"{r.outcome.upper():5} {shown(r.serial)}  slot {r.slot}  "
                           f"{r.seconds:6.2f} s  run {r.run_id}"
                           + (f"  {r.reason}" if r.reason else ""), force=True)
            if self.live is not None:
                self.live.update(self._table())

    def _line(self, text: str, force: bool = False) -> None:
        if self.live is not None:
            if force:
                self.live.console.print(text, markup=False, highlight=False)
            return
        print(text, file=self.out, flush=True)

    @contextlib.contextmanager
    def paused(self):
        """The live table off the terminal (an operator prompt has it), then back."""
        if self.live is None:
            yield
            return
        with self.lock:
            self.live.stop()
        try:
            yield
        finally:
            with self.lock:
                self.live.start()

    def __enter__(self):
        if self.live is not None:
            self.live.__enter__()
        return self

    def __exit__(self, *exc):
        if self.live is not None:
            self.live.__exit__(*exc)


class TerminalPrompts:
    """The units' operator prompts, asked on the station's terminal one at a time (labelled
    with slot and serial), answered for the unit through its results directory; a prompt that
    closes meanwhile (timed out, unit stopped) is dropped."""

    def __init__(self, progress: LiveProgress, operator: str, fd: int = 0) -> None:
        import queue

        self.progress, self.operator, self.fd = progress, operator, fd
        self.todo: queue.Queue = queue.Queue()
        self.closed: set[str] = set()
        self.units: dict[int, tuple[str, Path]] = {}
        self.gone = False  # the terminal's input ended: nobody answers any more
        threading.Thread(target=self._ask, name="operator-prompts", daemon=True).start()

    def __call__(self, event: str, data: dict) -> None:
        from .prompts import Prompt

        if event == "start":
            self.units[data["slot"]] = (data["serial"], Path(data["dir"]))
        elif event == "progress" and data.get("event") == "prompt" and not self.gone:
            self.todo.put((data["slot"], Prompt.from_event(data), time.monotonic()))
        elif event == "progress" and data.get("event") == "prompt-closed":
            self.closed.add(str(data.get("id")))

    def _ask(self) -> None:
        from .prompts import ask_on_terminal, write_answer
        from .serials import shown

        while True:
            slot, prompt, since = self.todo.get()
            if prompt.id in self.closed or self.gone:
                continue
            serial, unit_dir = self.units[slot]
            with self.progress.paused():
                try:
                    value = ask_on_terminal(
                        prompt, self.fd, sys.stdout, since + prompt.timeout,
                        cancelled=functools.partial(self.closed.__contains__, prompt.id),
                        label=f"slot {slot} ({shown(serial)})")
                except EOFError:
                    self.gone = True
                    print("operator prompts: the terminal's input ended; prompts now time out",
                          flush=True)
                    continue
            if value is not None:
                with contextlib.suppress(FileExistsError, OSError, ValueError):
                    write_answer(unit_dir, prompt, value, self.operator)


# -- station run ---------------------------------------------------------------------------
def _serials(args) -> list[str]:
    from . import serials

    out = list(args.serials)
    if args.file:
        out += serials.read_file(Path(args.file))
    if args.stdin or (not out and not args.file):
        out += list(serials.read_lines(sys.stdin.buffer))
    return out


def cmd_station_run(args) -> int:
    """Exit 0 all passed, 1 a unit failed, 2 errors/aborted/refused; stopped by a signal:
    128 + its number (130 SIGINT, 143 SIGTERM), after every running unit recorded its end."""
    from .station import Stop

    stop = Stop()
    with stop.on_signals():  # from the start: a stop before the line starts tests nothing
        summary = _station_run(args, stop)
        if summary is None:
            return 2
        print(format_summary(summary), flush=True)
    if stop.signum is not None:
        return 128 + stop.signum
    return summary.exit_code


def _station_run(args, stop):
    from .product import load_product
    from .serials import shown, split
    from .station import Station
    from .where import line_of

    targets_dir = Path(args.targets_dir)
    product = load_product(args.product, targets_dir)
    ok, refused = split(_serials(args), product.serial_pattern)
    for r in refused:
        print(f"REFUSED {shown(r.raw)}: {r.reason}", flush=True)
    if not ok:
        print("station: no valid serial number to test", file=sys.stderr)
        return None
    line = line_of(args, product)
    operator = args.operator or getpass.getuser()
    # the terminal answers the units' operator prompts unless it is the scanner
    asks = not (args.stdin or (not args.serials and not args.file)) and _terminal()
    with LiveProgress(line.slots) as progress:
        listener = progress
        if asks:
            prompts = TerminalPrompts(progress, operator)

            def listener(event: str, data: dict) -> None:
                progress(event, data)
                prompts(event, data)
        station = Station(product, line.slots, line.db, args.station or socket.gethostname(),
                          operator, line.results, line.bench,
                          retries=args.retries, extra_args=args.pytest_arg or [],
                          listener=listener, db_wait=args.db_wait, stop=stop, prompts=asks)
        return station.run(ok, refused)


def _terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):
        return False


def format_summary(summary) -> str:
    from .serials import shown

    lines = ["", "serial number                             verdict  run"]
    for serial, r in summary.final().items():
        lines.append(f"{shown(serial):40}  {r.outcome.upper():7}  {r.run_id or '-'}")
    lines.append(
        f"units tested: {summary.units}  pass: {summary.count('pass')}  "
        f"fail: {summary.count('fail')}  error (harness/tool, retest): "
        f"{summary.count('error') + summary.count('aborted')}  refused: {len(summary.refused)}")
    lines.append(f"first-pass yield: {summary.first_pass_yield * 100:.1f} %  "
                 f"units per hour: {summary.units_per_hour:.0f}  "
                 f"({summary.seconds:.1f} s)")
    if summary.stopped:
        lines.append(f"stopped: {summary.stopped}; not tested: {len(summary.untested)}"
                     + (f" ({', '.join(shown(s) for s in summary.untested[:10])}"
                        + (", ..." if len(summary.untested) > 10 else "") + ")"
                        if summary.untested else ""))
    return "\n".join(lines)


# -- report --------------------------------------------------------------------------------
def cmd_report(args) -> int:
    from .records import DEFAULT_URL

    engine = open_existing(args.db or DEFAULT_URL)
    try:
        if args.json is not None:
            from .report import export_json

            text = export_json(engine, args.json)
            if args.out:
                Path(args.out).write_text(text)
                print(args.out)
            else:
                print(text)
            return 0
        from .report import write_html

        out = Path(args.out or "results/report.html")
        write_html(engine, out, serial=args.serial, product=args.product)
        print(out)
        return 0
    finally:
        engine.dispose()


def _seconds(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give seconds, greater than 0")
    return value


def add_commands(sub) -> None:
    """Add ``station`` and ``report`` to the ``harness`` CLI's subparsers."""
    st = sub.add_parser("station", help="production station: test units by serial number")
    st_sub = st.add_subparsers(dest="station_cmd", required=True)
    r = st_sub.add_parser("run", help="test units on N slots in parallel")
    r.add_argument("serials", nargs="*", help="serial numbers (else --file, else stdin)")
    r.add_argument("--product", required=True, help="targets/products/<product>.yaml")
    r.add_argument("--slots", type=int, default=1, help="slots in parallel (default 1)")
    r.add_argument("--file", help="file of serial numbers, one per line")
    r.add_argument("--stdin", action="store_true",
                   help="also read serial numbers from stdin, one per line (a scanner)")
    r.add_argument("--db", help="record store URL (default sqlite:///<results>/harness.db); "
                                "it must exist unless --create is given")
    r.add_argument("--create", action="store_true",
                   help="create the record store if it does not exist (a new SQLite file, or "
                        "the schema in an existing, empty PostgreSQL database); without it a "
                        "missing store is refused, so that a mistyped --db cannot start a new "
                        "one unnoticed")
    r.add_argument("--results", help="results directory (default results/)")
    r.add_argument("--bench", help="bench inventory (default targets/benches/emulated.yaml)")
    r.add_argument("--station", help="station name (default: host name)")
    r.add_argument("--operator", help="operator (default: login name)")
    r.add_argument("--retries", type=int, default=0,
                   help="re-run a unit whose run errored (harness/tool fault) up to N times; "
                        "failed units are never retried")
    r.add_argument("--db-wait", type=_seconds, metavar="SECONDS",
                   help="how long a unit's run waits for a record store that went away (a "
                        "database server restarting) before it ends as an error "
                        "(default: 30 s times the run's --timeout-factor)")
    r.add_argument("--pytest-arg", action="append", metavar="ARG",
                   help="extra argument for each unit's pytest (repeatable)")
    r.set_defaults(func=cmd_station_run)
    from .panel.serve import add_parser as add_serve

    add_serve(st_sub, _seconds)
    rep = sub.add_parser("report", help="HTML report of the records, or JSON of one run")
    rep.add_argument("--db", help="record store URL (default sqlite:///results/harness.db); "
                                  "must exist: nothing is created")
    rep.add_argument("--out", help="output file (default results/report.html)")
    rep.add_argument("--serial", help="only this serial number")
    rep.add_argument("--product", help="only this product")
    rep.add_argument("--json", type=int, metavar="RUN_ID", help="export one run as JSON")
    rep.set_defaults(func=cmd_report)
