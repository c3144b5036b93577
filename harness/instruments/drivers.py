"""Open an instrument of the bench inventory and pick its driver from ``*IDN?``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..bench import Instrument
from . import counter, dmm, psu
from .base import Driver
from .errors import InstrumentError, UnknownInstrument
from .psu import PowerSupply
from .safety import SafetyLimits
from .scpi import Identity, ScpiSession

if TYPE_CHECKING:
    from pyvisa import ResourceManager

DRIVERS: tuple[type[Driver], ...] = psu.DIALECTS + dmm.DIALECTS + counter.DIALECTS


def driver_for(identity: Identity, resource: str = "") -> type[Driver]:
    for cls in DRIVERS:
        if cls.accepts(identity):
            return cls
    known = "; ".join(f"{c.dialect} ({c.kind})" for c in DRIVERS)
    raise UnknownInstrument(f"{resource}: no driver for {identity}; known dialects: {known}")


def open_instrument(inst: Instrument, resource: str | None = None,
                    rm: ResourceManager | None = None, *, timeout_factor: float = 1.0) -> Driver:
    """Open ``inst`` (at ``resource``, default its inventory resource string) with its driver.

    The driver's kind must match the inventory's (a meter listed as a supply is an error).
    Every wait of the session is the inventory's ``timeout_ms`` (or a call's own budget)
    times ``timeout_factor``.
    """
    where = resource or inst.resource
    session = ScpiSession(where, timeout_ms=inst.timeout_ms, timeout_factor=timeout_factor,
                          rm=rm, name=inst.name,
                          serial=inst.serial.visa_attributes() if inst.serial else None)
    try:
        cls = driver_for(session.identity, where)
        if cls.kind != inst.kind:
            raise InstrumentError(f"{where}: instrument {inst.name!r} is listed as a "
                                  f"{inst.kind}, but answers as {session.identity} "
                                  f"(a {cls.kind})")
        session.clear()
        if issubclass(cls, PowerSupply):  # kind "psu": a supply works within limits
            return cls(session, SafetyLimits(f"{inst.name} ({where})", inst.channels),
                       name=inst.name)
        return cls(session, name=inst.name)
    except BaseException:
        session.close()
        raise
