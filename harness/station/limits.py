"""Limits: a versioned file per product (``targets/limits/<product>.yaml``) and verdicts.

A limit has a name, a low and/or a high bound (inclusive), a unit, a marginal band and a
description. A value is judged:

* ``pass``     inside the limits, farther than the marginal band from either bound;
* ``marginal`` inside the limits but within the band of a bound (still passes, flagged);
* ``fail``     outside the limits, or NaN / infinite.

A unit that does not match the limit's, or a name the file does not know, is a fault of the test
or of the limits file — an error, never a pass. The file's sha256 goes into every record.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..config import load_model
from ..errors import ConfigError, DutFailure, HarnessError

Outcome = Literal["pass", "marginal", "fail"]


class UnitMismatch(HarnessError):
    """A measurement was taken in another unit than its limit's."""


class UnknownMeasurement(HarnessError):
    """A measurement name that the limits file does not define."""


class MeasurementFailure(DutFailure):
    """A measured value is outside its limits: the test fails."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        super().__init__(verdict.describe())


class Limit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_.]*$")
    low: float | None = None
    high: float | None = None
    unit: str = Field(min_length=1, max_length=16)
    marginal: Annotated[float, Field(ge=0)] = 0.0
    description: str = ""

    def model_post_init(self, _context: object) -> None:
        if self.low is None and self.high is None:
            raise ValueError(f"limit {self.name!r} needs 'low', 'high' or both")
        for bound in (self.low, self.high):
            if bound is not None and not math.isfinite(bound):
                raise ValueError(f"limit {self.name!r}: bounds must be finite numbers")
        if self.low is not None and self.high is not None:
            if self.low > self.high:
                raise ValueError(f"limit {self.name!r}: low {self.low} > high {self.high}")
            if 2 * self.marginal > self.high - self.low:
                raise ValueError(f"limit {self.name!r}: marginal band {self.marginal} is wider "
                                 f"than half the window {self.low}..{self.high}")

    def judge(self, value: float, unit: str) -> Verdict:
        if unit != self.unit:
            raise UnitMismatch(f"measurement {self.name!r}: taken in {unit!r}, but its limit is "
                               f"in {self.unit!r}")
        value = float(value)
        if not math.isfinite(value):
            outcome: Outcome = "fail"
        elif (self.low is not None and value < self.low) or \
                (self.high is not None and value > self.high):
            outcome = "fail"
        elif (self.low is not None and value < self.low + self.marginal) or \
                (self.high is not None and value > self.high - self.marginal):
            outcome = "marginal"
        else:
            outcome = "pass"
        return Verdict(self, value, outcome)


@dataclass(frozen=True)
class Verdict:
    limit: Limit
    value: float
    outcome: Outcome

    @property
    def passed(self) -> bool:
        return self.outcome != "fail"

    def describe(self) -> str:
        lo = "-inf" if self.limit.low is None else f"{self.limit.low:g}"
        hi = "+inf" if self.limit.high is None else f"{self.limit.high:g}"
        return (f"{self.limit.name} = {self.value:g} {self.limit.unit}: {self.outcome.upper()} "
                f"(limits {lo}..{hi} {self.limit.unit}, marginal band {self.limit.marginal:g})")


class LimitsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    product: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    version: str = Field(min_length=1, description="bumped on every change of the limits")
    limits: list[Limit] = Field(min_length=1)

    def model_post_init(self, _context: object) -> None:
        names = [x.name for x in self.limits]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"limits defined twice: {dup}")


@dataclass(frozen=True)
class LimitSet:
    """A loaded limits file: its limits by name, version, path and sha256 of its bytes."""

    product: str
    version: str
    path: Path
    sha256: str
    by_name: dict[str, Limit]

    def get(self, name: str) -> Limit:
        try:
            return self.by_name[name]
        except KeyError:
            raise UnknownMeasurement(
                f"{self.path}: no limit named {name!r}; defined: "
                f"{', '.join(sorted(self.by_name))}") from None

    def judge(self, name: str, value: float, unit: str) -> Verdict:
        return self.get(name).judge(value, unit)


def load_limits(path: Path) -> LimitSet:
    """Read and check a limits file; errors name the file and the field."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: limits file not found") from None
    doc = load_model(path, LimitsFile, "limits file", data)
    return LimitSet(doc.product, doc.version, path, hashlib.sha256(data).hexdigest(),
                    {x.name: x for x in doc.limits})
