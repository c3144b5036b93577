"""Where a station's line runs, from its command's arguments (``harness station run`` and
``harness station serve`` alike): the bench slots, the results directory and the record store,
which must exist unless ``--create`` is given."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Line:
    bench: Path
    slots: list[int]
    results: Path  # resolved
    db: str


def line_of(args, product) -> Line:
    """``args``: ``bench``, ``slots``, ``results``, ``db``, ``create``."""
    from .station import bench_slots
    from .stores import open_existing

    bench = Path(args.bench) if args.bench else product.root / "targets/benches/emulated.yaml"
    slots = bench_slots(bench, args.slots)
    results = (Path(args.results) if args.results else product.root / "results").resolve()
    db = args.db or f"sqlite:///{results / 'harness.db'}"
    if not args.create:
        open_existing(db, create_hint=True).dispose()
    return Line(bench, slots, results, db)
