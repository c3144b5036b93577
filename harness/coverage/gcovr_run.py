"""gcovr over a tree of chip data: the HTML report, Cobertura XML and a summary, in one run.

gcovr runs as its own process (``python -m gcovr``, the interpreter running pytest), started
for every chip at once and waited for together. Each runs gcov in a directory of its own
(``--gcov-object-directory``): gcov writes its ``.gcov`` files into its working directory,
named after the source (``cm.h##<hash>.gcov``), so two gcovr runs sharing one would take
each other's files.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import HarnessError

HTML, XML, SUMMARY = "index.html", "coverage.xml", "summary.json"


def command(data: Path, out: Path, root: Path, gcov: str, title: str, workdir: Path,
            exclude: Sequence[str] = ()) -> list[str]:
    """gcovr's command line: ``data`` (a tree of .gcda/.gcno) → reports in ``out``, gcov
    running in ``workdir``."""
    cmd = [sys.executable, "-m", "gcovr", "--root", str(root), "--gcov-executable", gcov,
           "--gcov-object-directory", str(workdir),
           "--html-details", str(out / HTML), "--html-title", title,
           "--cobertura", str(out / XML), "--cobertura-pretty",
           "--json-summary", str(out / SUMMARY), "--json-summary-pretty"]
    for pattern in exclude:
        cmd += ["--exclude", pattern]
    return [*cmd, str(data)]


@dataclass(frozen=True)
class Totals:
    lines: tuple[int, int]  # covered, total
    functions: tuple[int, int]
    branches: tuple[int, int]

    @staticmethod
    def percent(pair: tuple[int, int]) -> float:
        return 100.0 * pair[0] / pair[1] if pair[1] else 0.0

    def describe(self) -> str:
        return ", ".join(f"{name} {self.percent(p):.1f}% ({p[0]}/{p[1]})"
                         for name, p in (("lines", self.lines), ("functions", self.functions),
                                         ("branches", self.branches)))


def read_totals(out: Path) -> Totals:
    d = json.loads((out / SUMMARY).read_text())
    return Totals((d["line_covered"], d["line_total"]),
                  (d["function_covered"], d["function_total"]),
                  (d["branch_covered"], d["branch_total"]))


class GcovrRun:
    """One gcovr process (started at construction; :meth:`wait` for its result)."""

    def __init__(self, data: Path, out: Path, root: Path, gcov: str, title: str,
                 exclude: Sequence[str] = ()) -> None:
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.workdir = Path(tempfile.mkdtemp(prefix="harness-gcovr-"))
        self.command = command(data, out, root, gcov, title, self.workdir, exclude)
        try:
            self.proc = subprocess.Popen(self.command, cwd=root, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True)
        except BaseException:
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise

    def wait(self) -> Totals:
        try:
            output, _ = self.proc.communicate()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if self.proc.returncode != 0:
            tail = "\n".join(output.splitlines()[-20:])
            raise HarnessError(f"gcovr failed (exit {self.proc.returncode}) for "
                               f"{self.out}:\n{tail}")
        return read_totals(self.out)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        shutil.rmtree(self.workdir, ignore_errors=True)
