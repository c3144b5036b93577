"""Human-readable end-of-run summary (rich table rendered to text)."""

from __future__ import annotations

import io
import posixpath
import time
from pathlib import Path

_STYLE = {"passed": "green", "failed": "bold red", "error": "bold magenta",
          "skipped": "yellow", "flaky": "bold yellow"}
_COUNTED = ("passed", "flaky", "failed", "error", "skipped")


def summary_table(rows: list[list], elapsed: float, results: Path, width: int = 110) -> str:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    # one row per test, grouped by file, named relative to the folder they all share
    rows = sorted(rows, key=lambda r: r[0])
    folder = _common_folder([r[0] for r in rows])
    title = "QSM Harness — results" + (f" ({folder}/)" if folder else "")
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("test", overflow="fold")
    table.add_column("outcome")
    table.add_column("duration", justify="right")
    counts: dict[str, int] = {}
    per_target: dict[str, dict[str, int]] = {}
    for nodeid, outcome, duration, *rest in rows:
        counts[outcome] = counts.get(outcome, 0) + 1
        target = rest[0] if rest and rest[0] else None
        if target:
            bucket = per_target.setdefault(target, {})
            bucket[outcome] = bucket.get(outcome, 0) + 1
        style = _STYLE.get(outcome, "")
        name = nodeid[len(folder) + 1:] if folder else nodeid
        table.add_row(escape(name), f"[{style}]{outcome.upper()}[/]",
                      f"{duration * 1e3:8.1f} ms")
    buf = io.StringIO()
    con = Console(file=buf, width=width, force_terminal=False, color_system=None)
    con.print(table)
    if len(per_target) > 1 or (per_target and len(per_target) != len(rows)):
        chips = Table(title="per chip", title_justify="left")
        chips.add_column("target")
        for name in _COUNTED:
            chips.add_column(name, justify="right")
        for target, c in sorted(per_target.items()):
            chips.add_row(target, *(str(c.get(k, 0)) for k in _COUNTED))
        con.print(chips)
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    con.print(f"{len(rows)} tests: {summary or 'none'} in {elapsed:.2f} s; "
              f"logs under {results}/logs")
    return buf.getvalue()


def _common_folder(nodeids: list[str]) -> str:
    """The folder every test file lies under ("" when they share none)."""
    files = [n.split("::", 1)[0] for n in nodeids]
    if not files:
        return ""
    folder = posixpath.commonpath(files)
    return posixpath.dirname(folder) if folder in files else folder


class SummaryTable:
    """pytest plugin object (registered with ``--summary``): one row per test, printed at the
    end. Its hooks run on the controller under xdist too, so the table covers every worker."""

    def __init__(self, results: Path) -> None:
        self.results = results
        self.rows: list[list] = []
        self._index: dict[str, list] = {}
        self._t0 = time.monotonic()

    def pytest_sessionstart(self) -> None:
        self._t0 = time.monotonic()

    def pytest_runtest_logreport(self, report) -> None:
        outcome = None
        if report.when == "setup" and report.failed:
            outcome = "error"
        elif report.when == "setup" and report.skipped:
            outcome = "skipped"
        elif report.when == "call":
            harness_error = report.failed and getattr(report, "harness_error", False)
            outcome = "error" if harness_error else report.outcome
            if getattr(report, "harness_flaky", False):  # passed after failed attempts
                outcome = "flaky"
        elif report.when == "teardown" and report.failed:
            outcome = "error"
        row = self._index.get(report.nodeid)
        if row is None:
            row = self._index[report.nodeid] = [report.nodeid, "passed", 0.0, None]
            self.rows.append(row)
        target = dict(report.user_properties).get("target")
        if target:
            row[3] = target
        row[2] += report.duration
        if outcome is not None and row[1] != "error":
            row[1] = outcome

    def pytest_terminal_summary(self, terminalreporter) -> None:
        terminalreporter.write_line("")
        terminalreporter.write(summary_table(self.rows, time.monotonic() - self._t0,
                                             self.results))
