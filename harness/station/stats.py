"""Process capability of a measurement across units: Cp and Cpk."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Capability:
    n: int
    mean: float
    stdev: float
    cp: float | None  # needs both limits
    cpk: float | None  # needs at least one limit


def capability(values: list[float], low: float | None, high: float | None) -> Capability | None:
    """Cp = (USL - LSL) / 6σ, Cpk = min(USL - μ, μ - LSL) / 3σ over finite values.

    None with fewer than two finite values. With σ = 0, Cp/Cpk are infinite when the mean is
    inside the limits (reported as such), and Cpk is negative infinity outside.
    """
    xs = [v for v in values if v is not None and math.isfinite(v)]
    if len(xs) < 2:
        return None
    mu = statistics.fmean(xs)
    sigma = statistics.stdev(xs)
    sides = []
    if high is not None:
        sides.append(high - mu)
    if low is not None:
        sides.append(mu - low)
    if sigma == 0:
        cp = math.inf if low is not None and high is not None else None
        worst = min(sides) if sides else None
        cpk = None if worst is None else (math.inf if worst >= 0 else -math.inf)
        return Capability(len(xs), mu, 0.0, cp, cpk)
    cp = (high - low) / (6 * sigma) if low is not None and high is not None else None
    cpk = min(sides) / (3 * sigma) if sides else None
    return Capability(len(xs), mu, sigma, cp, cpk)
