"""Directories of ``.gcda`` files that gcov and gcovr read, each beside a copy of its ``.gcno``.

gcov finds a unit's notes file (``.gcno``) next to its data file, so a tree of data from the
chip gets a copy of every notes file it needs; the sources are named by absolute path in the
notes (the coverage build uses ``-fprofile-abs-path``), so a tree may live anywhere.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from ..errors import FirmwareError
from .gcda import encode
from .gcov_info import Unit


def mirror(dest: Path, gcda: str, root: Path) -> Path:
    """Where a unit's data goes under ``dest``: its path relative to ``root`` (else the
    whole absolute path) below ``dest``."""
    path = Path(gcda)
    try:
        rel = path.relative_to(root)
    except ValueError:
        rel = path.relative_to(path.anchor)
    return Path(dest) / rel


def write_unit(path: Path, unit: Unit, counts: list[int], runs: int = 1,
               sum_max: int | None = None) -> Path:
    """``path`` (a .gcda) for ``unit``'s slice of an image's counter vector ``counts``, and
    the unit's notes file beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    values = counts[unit.first:unit.first + unit.count]
    path.write_bytes(encode(unit, values, runs, sum_max))
    notes = path.with_suffix(".gcno")
    if not notes.exists():
        try:
            shutil.copyfile(unit.gcno, notes)
        except FileNotFoundError:
            raise FirmwareError(f"{unit.gcno}: notes file of the coverage build is gone (was "
                                f"the build tree cleaned after the run started?)") from None
    return path


def write_tree(dest: Path, units: Iterable[Unit], counts: list[int], root: Path,
               runs: int = 1) -> list[Path]:
    """Every unit's .gcda (and .gcno) under ``dest``; ``sum_max`` is the image's largest
    count, as libgcov would write it."""
    sum_max = max(counts, default=0)
    return [write_unit(mirror(dest, u.gcda, root), u, counts, runs, sum_max) for u in units]
