"""Which tests covered each line: every test's counters through gcov, merged into one map.

gcov itself turns counters into line counts (its JSON intermediate format, ``--json-format
--stdout``), so no coverage arithmetic happens here. A unit's line data depends only on its
counters, so each distinct (image, unit, counters) is written and read once, and a whole
run goes through a few gcov processes — a gcovr run per test would cost a second each.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import HarnessError
from .gcda import encode
from .gcov_info import Instrumentation, Unit

BATCH = 200  # data files per gcov process


@dataclass
class LineMap:
    """For each source line some test executed: the tests that executed it."""

    tests: list[str] = field(default_factory=list)
    # file (relative to the root) → line → indices into ``tests``
    files: dict[str, dict[int, list[int]]] = field(default_factory=dict)

    def covered_by(self, file: str, line: int) -> list[str]:
        return [self.tests[i] for i in self.files.get(file, {}).get(line, [])]

    def lines_of(self, test: str) -> set[tuple[str, int]]:
        """Every (file, line) ``test`` executed."""
        i = self.tests.index(test)
        return {(f, n) for f, lines in self.files.items() for n, who in lines.items()
                if i in who}

    def to_json(self) -> dict:
        return {"tests": self.tests,
                "files": {f: {str(n): who for n, who in sorted(lines.items())}
                          for f, lines in sorted(self.files.items())}}

    @classmethod
    def from_json(cls, data: dict) -> LineMap:
        return cls(list(data["tests"]),
                   {f: {int(n): list(who) for n, who in lines.items()}
                    for f, lines in data["files"].items()})


def line_map(runs: Iterable[tuple[str, str, Instrumentation, Sequence[int]]], root: Path,
             gcov: str, scratch: Path, exclude: Sequence[str] = ()) -> LineMap:
    """The map for ``runs``: (test, image sha256, the image's records, the test's counter
    vector) each; files matching an ``exclude`` pattern (relative to ``root``) are left
    out."""
    excluded = [re.compile(p) for p in exclude]
    keys: dict[tuple[str, int, tuple[int, ...]], int] = {}  # distinct unit data → number
    datafiles: list[Path] = []
    tests: list[str] = []
    uses: dict[str, set[int]] = {}  # test → numbers of its unit data
    for test, image, inst, counts in runs:
        if test not in uses:  # listed even when it ran nothing instrumented
            tests.append(test)
            uses[test] = set()
        for unit in inst.units:
            values = tuple(counts[unit.first:unit.first + unit.count])
            if not any(values):
                continue
            key = (image, unit.first, values)
            if key not in keys:
                keys[key] = len(datafiles)
                datafiles.append(_write(scratch, len(datafiles), unit, counts))
            uses[test].add(keys[key])
    covered = _covered_lines(datafiles, root, gcov, excluded)
    files: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for index, test in enumerate(tests):
        lines = set().union(*(covered[n] for n in uses[test])) if uses[test] else set()
        for f, n in lines:
            files[f][n].append(index)
    return LineMap(tests, {f: dict(lines) for f, lines in files.items()})


def _write(scratch: Path, number: int, unit: Unit, counts: Sequence[int]) -> Path:
    """``<number>.gcda`` in ``scratch``, its notes file linked beside it as ``<number>.gcno``
    (one flat directory: a run writes hundreds of these)."""
    if not unit.gcno.exists():
        raise HarnessError(f"{unit.gcno}: notes file of the coverage build is gone (was the "
                           f"build tree cleaned after the run started?)")
    data = scratch / f"{number}.gcda"
    data.write_bytes(encode(unit, counts[unit.first:unit.first + unit.count]))
    (scratch / f"{number}.gcno").symlink_to(unit.gcno)
    return data


def _covered_lines(datafiles: list[Path], root: Path, gcov: str,
                   excluded: list[re.Pattern[str]]) -> list[set[tuple[str, int]]]:
    """For each data file, the (file, line) with a count, per gcov."""
    number = {str(p): n for n, p in enumerate(datafiles)}
    covered: list[set[tuple[str, int]]] = [set() for _ in datafiles]
    batches = [datafiles[i:i + BATCH] for i in range(0, len(datafiles), BATCH)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for out in pool.map(lambda b: _gcov(gcov, b), batches):
            for line in out.splitlines():
                if not line.strip():
                    continue
                doc = json.loads(line)
                n = number.get(doc.get("data_file", ""))
                if n is None:
                    raise HarnessError(f"{gcov} answered for {doc.get('data_file')!r}, "
                                       f"which it was not given")
                for f in doc["files"]:
                    rel = _relative(f["file"], root)
                    if any(p.match(rel) for p in excluded):
                        continue
                    covered[n].update((rel, ln["line_number"]) for ln in f["lines"]
                                      if ln["count"] > 0)
    return covered


def _gcov(gcov: str, files: list[Path]) -> str:
    try:
        proc = subprocess.run([gcov, "--json-format", "--stdout", *map(str, files)],
                              capture_output=True, text=True, cwd=files[0].parent)
    except FileNotFoundError:
        raise HarnessError(f"'{gcov}' not found on PATH: the per-test coverage map needs the "
                           f"toolchain's gcov (apt-get install gcc-arm-none-eabi)") from None
    if proc.returncode != 0:
        raise HarnessError(f"{gcov} failed (exit {proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def _relative(path: str, root: Path) -> str:
    p = Path(path)
    try:
        return p.relative_to(root).as_posix()
    except ValueError:
        return p.as_posix()
