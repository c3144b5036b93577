"""What can go wrong with an instrument. Every message names the VISA resource string."""

from __future__ import annotations

from ..errors import HarnessError


class InstrumentError(HarnessError):
    """The instrument, its connection or its configuration failed (an error, not a failure)."""


class InstrumentTimeout(InstrumentError):
    """The instrument did not answer within the call's timeout."""


class ScpiError(InstrumentError):
    """The instrument's error queue reported errors after a command."""

    def __init__(self, resource: str, command: str, errors: list[tuple[int, str]]) -> None:
        self.resource = resource
        self.command = command
        self.errors = errors
        listed = "; ".join(f"{code},\"{text}\"" for code, text in errors)
        super().__init__(f"{resource}: {command!r} raised {listed}")

    @property
    def codes(self) -> list[int]:
        return [c for c, _ in self.errors]


class SafetyLimitError(InstrumentError):
    """A setting beyond the bench's safety limit for the DUT; nothing was sent."""


class UnknownInstrument(InstrumentError):
    """No driver knows the model the instrument reported in ``*IDN?``."""
