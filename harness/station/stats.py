"""Statistics of the line: process capability (Cp/Cpk) across units, and first-pass yield."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

MIN_UNITS = 25  # below this many units, Cp/Cpk are shown with a warning: too few to trust
NO_SPREAD = "no spread (σ = 0)"


@dataclass(frozen=True)
class Capability:
    n: int
    mean: float
    stdev: float
    cp: float | None  # needs both limits and some spread
    cpk: float | None  # needs at least one limit and some spread
    note: str = ""  # why Cp/Cpk are missing or not to be trusted ("" when they are)

    @property
    def few(self) -> bool:
        """Fewer than :data:`MIN_UNITS` values: an estimate, not a capability."""
        return self.n < MIN_UNITS

    @property
    def no_spread(self) -> bool:
        return self.stdev == 0


def capability(values: list[float], low: float | None, high: float | None) -> Capability | None:
    """Cp = (USL - LSL) / 6σ, Cpk = min(USL - μ, μ - LSL) / 3σ over finite values.

    None with fewer than two finite values. With σ = 0 (every unit measured the same) there is
    no capability to speak of: Cp and Cpk are None and :attr:`Capability.note` says why — never
    an infinity. Fewer than :data:`MIN_UNITS` values are noted too.
    """
    xs = [v for v in values if v is not None and math.isfinite(v)]
    if len(xs) < 2:
        return None
    mu = statistics.fmean(xs)
    sigma = statistics.stdev(xs)
    few = f"too few units (n = {len(xs)} < {MIN_UNITS})" if len(xs) < MIN_UNITS else ""
    if sigma == 0 or not math.isfinite(sigma):
        outside = (low is not None and mu < low) or (high is not None and mu > high)
        spread = NO_SPREAD + (", every value outside the limits" if outside else "")
        note = "; ".join(n for n in (spread, few) if n)
        return Capability(len(xs), mu, 0.0, None, None, note)
    sides = []
    if high is not None:
        sides.append(high - mu)
    if low is not None:
        sides.append(mu - low)
    cp = (high - low) / (6 * sigma) if low is not None and high is not None else None
    cpk = min(sides) / (3 * sigma) if sides else None
    return Capability(len(xs), mu, sigma, cp, cpk, few)


def first_outcomes(runs: Iterable[tuple[str, int, str | None]]) -> dict[str, str]:
    """Serial number → the outcome of its first run, from ``(serial, order, outcome)`` of
    every run (order: the run id or attempt, lowest first). A run without an outcome (killed
    before it ended) counts as ``aborted``: an aborted first attempt is a first attempt."""
    first: dict[str, tuple[int, str]] = {}
    for serial, order, outcome in runs:
        if serial not in first or order < first[serial][0]:
            first[serial] = (order, outcome or "aborted")
    return {sn: outcome for sn, (_, outcome) in first.items()}


def first_pass_yield(first: dict[str, str]) -> tuple[int, int]:
    """(serial numbers whose first run passed, serial numbers) from :func:`first_outcomes`."""
    return sum(1 for o in first.values() if o == "pass"), len(first)
