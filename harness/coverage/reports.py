"""The end of a coverage run: every record read back and turned into reports, per chip.

Under ``<results>/coverage/<target>/``: gcovr's HTML report (``index.html`` and a page per
source file), Cobertura XML (``coverage.xml``), gcovr's summary (``summary.json``), the
merged data it was made from (``data/``: .gcda beside .gcno copies, for gcov or gcovr by
hand), and which tests covered each line (``tests-by-line.json``, ``tests.html``). A chip's
images (the product's and its C unit-test image) make one report: gcovr merges by source
file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import HarnessError
from . import store
from .by_line import line_map
from .gcov_info import Instrumentation, read_instrumentation
from .gcovr_run import GcovrRun, Totals
from .tree import write_tree
from .view import render

DATA, BY_LINE, BY_LINE_HTML = "data", "tests-by-line.json", "tests.html"


@dataclass
class ChipReport:
    target: str
    out: Path
    tests: int = 0
    read_seconds: list[float] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # why some tests have no data
    totals: Totals | None = None
    error: str = ""

    def describe(self) -> str:
        head = f"{self.target}: "
        if self.error:
            return head + f"no report: {self.error}"
        if self.totals is None:
            return head + "no coverage data" + (f" ({self.missing[0]})" if self.missing else "")
        reads = ""
        if self.read_seconds:
            reads = (f"; counters read in {statistics.mean(self.read_seconds) * 1e3:.1f} ms "
                     f"per test (max {max(self.read_seconds) * 1e3:.1f} ms)")
        return (f"{head}{self.totals.describe()}; {self.tests} tests{reads} → "
                f"{self.out / 'index.html'}")


def build_reports(coverage_dir: Path, root: Path, gcov: str,
                  exclude: tuple[str, ...] = ()) -> list[ChipReport]:
    """A report for every chip with records under ``coverage_dir``."""
    by_target: dict[str, list[store.Record]] = defaultdict(list)
    for record in store.read_all(coverage_dir):
        by_target[record.target].append(record)
    reports, runs = [], []
    for target, records in sorted(by_target.items()):
        report = ChipReport(target, Path(coverage_dir) / target)
        reports.append(report)
        try:
            runs.append((report, _start(report, records, root, gcov, exclude)))
        except HarnessError as exc:
            report.error = str(exc)
    for report, (gcovr, finish) in runs:
        try:
            finish()
            report.totals = gcovr.wait()
        except HarnessError as exc:
            report.error = str(exc)
        finally:
            gcovr.kill()
    return reports


def _start(report: ChipReport, records: list[store.Record], root: Path, gcov: str,
           exclude: tuple[str, ...]):
    """Write the merged data and start gcovr on it; returns (gcovr run, what finishes the
    per-test map while gcovr works)."""
    measured = [r for r in records if not r.missing]
    report.missing = sorted({r.missing for r in records if r.missing})
    report.read_seconds = [r.seconds for r in measured]
    report.tests = len({r.test for r in measured})
    if not measured:
        raise HarnessError("no test read counters" + (f": {report.missing[0]}"
                                                       if report.missing else ""))
    images = {r.sha256: r.elf for r in measured}
    inst = {sha: _instrumentation(Path(elf), sha) for sha, elf in images.items()}
    out = report.out
    shutil.rmtree(out, ignore_errors=True)
    for sha, i in inst.items():
        mine = [r for r in measured if r.sha256 == sha]
        merged = [0] * i.size
        for r in mine:
            for index, value in r.counts.items():
                merged[index] += value
        write_tree(out / DATA, i.units, merged, root, runs=len(mine))
    gcovr = GcovrRun(out / DATA, out, root, gcov, f"{report.target} firmware coverage",
                     exclude)

    def finish() -> None:
        ordered = sorted(measured, key=lambda r: r.test)
        with tempfile.TemporaryDirectory(prefix="harness-cov-", dir=_fast_tmp()) as scratch:
            lines = line_map(((r.test, r.sha256, inst[r.sha256], r.dense(inst[r.sha256].size))
                              for r in ordered), root, gcov, Path(scratch), exclude)
        (out / BY_LINE).write_text(json.dumps(lines.to_json(), separators=(",", ":")))
        (out / BY_LINE_HTML).write_text(render(lines, root, f"{report.target}: which tests "
                                                            "covered each line"))

    return gcovr, finish


def _fast_tmp() -> str | None:
    """A RAM-backed directory for the per-test map's hundreds of small files, if there is
    one (else the usual temporary directory)."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


def _instrumentation(elf: Path, sha256: str) -> Instrumentation:
    try:
        now = hashlib.sha256(elf.read_bytes()).hexdigest()
    except OSError as exc:
        raise HarnessError(f"{elf}: the image the counters came from is gone ({exc})") from None
    if now != sha256:
        raise HarnessError(f"{elf} changed since its counters were read (rebuilt during the "
                           f"run?): its records no longer describe them")
    return read_instrumentation(elf)
