"""What every typed driver shares: the session, the identity, the dialect match."""

from __future__ import annotations

import math
import re
from typing import ClassVar

from .scpi import Identity, ScpiSession

# SCPI instruments answer 9.9E37 for an overload and 9.91E37 for "no value" (NaN)
OVERLOAD = 9.9e37
NO_VALUE = 9.91e37


def reading(value: float) -> float:
    """A measurement as a float: overload → inf, "no value" → nan."""
    if abs(value) >= NO_VALUE * 0.9999:
        return math.nan
    if abs(value) >= OVERLOAD * 0.9999:
        return math.copysign(math.inf, value)
    return value


class Driver:
    """A typed driver for one SCPI dialect. Subclasses say which ``*IDN?`` they accept."""

    kind: ClassVar[str]
    makers: ClassVar[str] = ""   # regex on the maker field
    models: ClassVar[str] = ""   # regex on the model field
    dialect: ClassVar[str] = ""  # human name of the command set

    def __init__(self, session: ScpiSession, name: str = "") -> None:
        self.session = session
        self.name = name or session.resource

    @classmethod
    def accepts(cls, identity: Identity) -> bool:
        return bool(re.fullmatch(cls.makers, identity.maker, re.I)
                    and re.fullmatch(cls.models, identity.model, re.I))

    @property
    def identity(self) -> Identity:
        return self.session.identity

    @property
    def resource(self) -> str:
        return self.session.resource

    def close(self) -> None:
        self.session.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.identity.model} at {self.resource}>"
