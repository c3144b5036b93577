"""``harness lab down``: stop every process of the lab, remove its state file."""

from __future__ import annotations

import contextlib
from pathlib import Path

from .procs import stop
from .state import LabState


def stop_lab(state: LabState) -> list[str]:
    """Stop the lab's live processes with their descendants; one line per process."""
    live = state.live()
    killed = set(stop([p.pid for p in live])) if live else set()
    with contextlib.suppress(FileNotFoundError):
        state.path.unlink()
    return [f"stopped {p.role} (pid {p.pid}{', killed' if p.pid in killed else ''})"
            for p in live]


def lab_down(directory: Path) -> list[str]:
    """Idempotent: a directory without a lab says so."""
    base = Path(directory).resolve()
    state = LabState.load(base)
    if state is None:
        return [f"no lab in {base}"]
    return stop_lab(state) or [f"the lab in {base} had no live process; state file removed"]
