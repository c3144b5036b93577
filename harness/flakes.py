"""``harness flakes RESULTS_DIR``: how flaky each test has been, from a folder of JUnit XML files.

Every ``*.xml`` file under the folder (sub-folders included) whose root is ``<testsuites>`` or
``<testsuite>`` is one run; other XML documents (a coverage report...) are passed over. Per test
(``classname::name``) it counts

* runs      — runs in which the test ran (skips and xfails are not runs);
* failures  — runs it ended failed or in error (after its retries, with ``--retry``);
* flaky     — runs it passed only after failing (property ``harness_outcome`` = ``flaky``,
              written by ``--retry``);
* flake rate — flaky / runs;

and lists the tests by flake rate, then failure rate. A file that is not well-formed XML is named
on stderr and left out; the others are still read and the command exits 2, as it does for a
missing folder or one without any JUnit file.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from .errors import ConfigError

# a test's outcome in one run, the worse one when a file lists it twice (pytest writes a
# second <testcase> for an error in teardown after a failure)
_RANK = {"skipped": 0, "passed": 1, "flaky": 2, "failed": 3}


@dataclass
class FlakeRecord:
    test: str
    runs: int = 0
    passed: int = 0
    failures: int = 0
    flaky: int = 0
    skipped: int = 0

    @property
    def flake_rate(self) -> float:
        return self.flaky / self.runs if self.runs else 0.0

    @property
    def failure_rate(self) -> float:
        return self.failures / self.runs if self.runs else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "flake_rate": round(self.flake_rate, 4)}


@dataclass
class History:
    folder: Path
    files: list[Path] = field(default_factory=list)  # the JUnit files read
    problems: list[str] = field(default_factory=list)  # files that could not be read, and why
    tests: dict[str, FlakeRecord] = field(default_factory=dict)

    def ranked(self) -> list[FlakeRecord]:
        """Most flaky first; then most failing; then by name."""
        return sorted(self.tests.values(),
                      key=lambda t: (-t.flake_rate, -t.failure_rate, t.test))


def case_outcome(case: ElementTree.Element) -> str:
    """passed, failed, flaky or skipped: one ``<testcase>`` of a JUnit file."""
    tags = {child.tag for child in case}
    if tags & {"failure", "error"}:
        return "failed"
    if "skipped" in tags:
        return "skipped"
    for prop in case.iterfind("properties/property"):
        if prop.get("name") == "harness_outcome" and prop.get("value") == "flaky":
            return "flaky"
    return "passed"


def case_name(case: ElementTree.Element) -> str:
    classname, name = case.get("classname", ""), case.get("name")
    if not name:
        raise ValueError("a <testcase> without a name")
    return f"{classname}::{name}" if classname else name


def read_run(path: Path) -> dict[str, str] | None:
    """One JUnit file: test → outcome; None when the XML is not a JUnit report. Raises
    ElementTree.ParseError (not well-formed) or ValueError (a nameless test case)."""
    root = ElementTree.parse(path).getroot()
    if root.tag not in ("testsuites", "testsuite"):
        return None
    outcomes: dict[str, str] = {}
    for case in root.iter("testcase"):
        name, outcome = case_name(case), case_outcome(case)
        if _RANK[outcome] >= _RANK.get(outcomes.get(name, "skipped"), 0):
            outcomes[name] = outcome
    return outcomes


def read_history(folder: Path) -> History:
    """Every JUnit file under ``folder``; a missing folder is a ConfigError."""
    if not folder.is_dir():
        what = "not a folder" if folder.exists() else "no such folder"
        raise ConfigError(f"{folder}: {what} (give the folder of the runs' JUnit XML files)")
    history = History(folder)
    for path in sorted(p for p in folder.rglob("*.xml") if p.is_file()):
        try:
            run = read_run(path)
        except ElementTree.ParseError as exc:
            history.problems.append(f"{path}: not well-formed XML ({exc})")
            continue
        except (ValueError, OSError) as exc:
            history.problems.append(f"{path}: {exc}")
            continue
        if run is None:
            continue
        history.files.append(path)
        for name, outcome in run.items():
            rec = history.tests.setdefault(name, FlakeRecord(name))
            if outcome == "skipped":
                rec.skipped += 1
                continue
            rec.runs += 1
            if outcome == "failed":
                rec.failures += 1
            else:
                rec.passed += 1
                rec.flaky += outcome == "flaky"
    return history


def render(history: History, width: int | None = None) -> str:
    """The ranked table as text."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Flaky tests, most flaky first", title_justify="left")
    table.add_column("test", overflow="fold")
    for column in ("runs", "failures", "flaky", "flake rate"):
        table.add_column(column, justify="right")
    for rec in history.ranked():
        style = "yellow" if rec.flaky else ("red" if rec.failures else "")
        table.add_row(escape(rec.test), str(rec.runs), str(rec.failures), str(rec.flaky),
                      f"{rec.flake_rate:.1%}", style=style)
    buf = io.StringIO()
    console = Console(file=buf, width=width or 120, force_terminal=False, color_system=None)
    console.print(table)
    flaky = sum(1 for r in history.tests.values() if r.flaky)
    console.print(f"{len(history.tests)} tests in {len(history.files)} run(s) under "
                  f"{escape(str(history.folder))}: {flaky} flaky at least once", soft_wrap=True)
    return buf.getvalue()


def as_json(history: History) -> str:
    return json.dumps({"folder": str(history.folder),
                       "files": [str(p) for p in history.files],
                       "problems": history.problems,
                       "tests": [r.as_dict() for r in history.ranked()]}, indent=1)


def cmd_flakes(args: argparse.Namespace) -> int:
    history = read_history(Path(args.folder))
    for problem in history.problems:
        print(f"harness: error: {problem}", file=sys.stderr)
    if not history.files and not history.problems:
        raise ConfigError(f"{args.folder}: no JUnit XML file in it (pytest --junitxml=...)")
    if args.json:
        print(as_json(history))
    else:
        print(render(history, width=max(100, shutil.get_terminal_size().columns)), end="")
    return 2 if history.problems else 0


def add_command(sub) -> None:
    """``harness flakes FOLDER [--json]`` on the ``harness`` command's subparsers."""
    f = sub.add_parser("flakes", help="how flaky each test has been, from a folder of JUnit "
                                      "XML files (one per run)")
    f.add_argument("folder", metavar="RESULTS_DIR",
                   help="folder of JUnit XML files (sub-folders included)")
    f.add_argument("--json", action="store_true", help="print JSON instead of a table")
    f.set_defaults(func=cmd_flakes)
