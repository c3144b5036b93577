"""Per-test counter readings on disk, one JSON line each, one file per pytest process.

Workers (pytest-xdist) append what their tests read; the process that writes the reports
reads every file back. A line is self-describing — test, chip, image, the non-zero counters
— so nothing but the files passes between processes. A line may also say that a chip's
image carries no coverage records (``missing``), so the run's summary can say why a chip has
no report.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

RAW_DIR = "raw"


@dataclass
class Record:
    test: str  # pytest node id
    target: str
    elf: str  # the image the counters belong to
    sha256: str
    counts: dict[int, int] = field(default_factory=dict)  # vector index → non-zero count
    seconds: float = 0.0  # what reading (and zeroing) the counters cost
    missing: str = ""  # set instead of counts: why there is no data for this chip

    def dense(self, size: int) -> list[int]:
        out = [0] * size
        for i, v in self.counts.items():
            out[i] = v
        return out

    def to_json(self) -> str:
        data = {"test": self.test, "target": self.target, "elf": self.elf,
                "sha256": self.sha256, "seconds": round(self.seconds, 6)}
        if self.missing:
            data["missing"] = self.missing
        else:
            data["counts"] = sorted(self.counts.items())
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> Record:
        d = json.loads(line)
        return cls(d["test"], d["target"], d["elf"], d["sha256"],
                   {int(i): int(v) for i, v in d.get("counts", ())}, float(d["seconds"]),
                   d.get("missing", ""))


def sparse(counts: list[int]) -> dict[int, int]:
    return {i: v for i, v in enumerate(counts) if v}


class RecordLog:
    """The record file of one pytest process under ``<coverage dir>/raw/``."""

    def __init__(self, coverage_dir: Path, process: str) -> None:
        self.path = Path(coverage_dir) / RAW_DIR / f"{process}.jsonl"

    def append(self, record: Record) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(record.to_json() + "\n")


def clear(coverage_dir: Path) -> None:
    """Forget the records of an earlier run (before any test of this one reads)."""
    shutil.rmtree(Path(coverage_dir) / RAW_DIR, ignore_errors=True)


def read_all(coverage_dir: Path) -> Iterator[Record]:
    for path in sorted((Path(coverage_dir) / RAW_DIR).glob("*.jsonl")):
        with path.open() as f:
            for line in f:
                if line.strip():
                    yield Record.from_json(line)
