"""What the tester knows about an ECU: CAN ids, data identifiers, the security algorithm.

A profile is plain data (no heavy imports); :mod:`harness.diag.client` turns it into a udsoncan
configuration. Profiles are found by target name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import ConfigError


@dataclass(frozen=True)
class Did:
    """How to decode one data identifier: ``ascii`` (``length`` bytes, or the rest of the
    response when None), ``struct`` (a :mod:`struct` format), or ``raw`` bytes."""

    kind: str
    length: int | None = None
    fmt: str | None = None


@dataclass(frozen=True)
class EcuProfile:
    name: str
    tx_id: int                    # tester → ECU, physical
    rx_id: int                    # ECU → tester
    functional_id: int | None = None
    dids: dict[int, Did] = field(default_factory=dict)
    security_key: Callable[[int, bytes], bytes] | None = None  # (level, seed) → key
    bitrate: int = 500_000


def qsm_a_key(level: int, seed: bytes) -> bytes:
    """QSM-A SecurityAccess level 1: key = rotl32(seed ^ 0xA5C3F00D, 11) + 0x13579BDF."""
    if level != 1:
        raise ValueError(f"QSM-A has no security level {level}")
    s = int.from_bytes(seed, "big") ^ 0xA5C3F00D
    s = ((s << 11) | (s >> 21)) & 0xFFFFFFFF
    return ((s + 0x13579BDF) & 0xFFFFFFFF).to_bytes(4, "big")


QSM_A = EcuProfile(
    name="qsm-auto",
    tx_id=0x7E0,
    rx_id=0x7E8,
    functional_id=0x7DF,
    dids={
        0xF190: Did("ascii", 17),           # VIN
        0xF18C: Did("ascii", 16),           # ECU serial number
        0xF195: Did("ascii", None),         # software version, "M.m.p"
        0xF186: Did("struct", fmt=">B"),    # active diagnostic session
        0xD001: Did("struct", fmt=">BBBBBH"),  # body: lights, locked, window, crash, pinch, mV
    },
    security_key=qsm_a_key,
)

PROFILES: dict[str, EcuProfile] = {QSM_A.name: QSM_A}


def profile_for(target_name: str) -> EcuProfile:
    try:
        return PROFILES[target_name]
    except KeyError:
        raise ConfigError(
            f"no diagnostics profile for target {target_name!r} (CAN ids, DIDs, security "
            f"algorithm); known: {', '.join(sorted(PROFILES))} — add one to "
            f"harness/diag/profiles.py") from None
