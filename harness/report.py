"""Human-readable end-of-run summary (rich table rendered to text)."""

from __future__ import annotations

import io
from pathlib import Path

_STYLE = {"passed": "green", "failed": "bold red", "error": "bold magenta",
          "skipped": "yellow"}


def summary_table(rows: list[list], elapsed: float, results: Path, width: int = 110) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="QSM Harness — results", title_justify="left", expand=False)
    table.add_column("test", overflow="fold")
    table.add_column("outcome")
    table.add_column("duration", justify="right")
    counts: dict[str, int] = {}
    for nodeid, outcome, duration in rows:
        counts[outcome] = counts.get(outcome, 0) + 1
        style = _STYLE.get(outcome, "")
        table.add_row(nodeid, f"[{style}]{outcome.upper()}[/]", f"{duration * 1e3:8.1f} ms")
    buf = io.StringIO()
    con = Console(file=buf, width=width, force_terminal=False, color_system=None)
    con.print(table)
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    con.print(f"{len(rows)} tests: {summary or 'none'} in {elapsed:.2f} s; "
              f"logs under {results}/logs")
    return buf.getvalue()
