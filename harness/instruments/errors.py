"""What can go wrong with an instrument. Every message names the VISA resource string."""

from __future__ import annotations

from ..errors import HarnessError

# the IEEE 488.2 *ESR bits an error sets: query (2), device-dependent (3), execution (4),
# command (5)
ESR_ERRORS = {0x04: "query error", 0x08: "device-dependent error", 0x10: "execution error",
              0x20: "command error"}


def esr_text(esr: int) -> str:
    """``16`` → ``16 (execution error)``."""
    names = [name for bit, name in ESR_ERRORS.items() if esr & bit]
    return f"{esr} ({', '.join(names)})" if names else str(esr)


class InstrumentError(HarnessError):
    """The instrument, its connection or its configuration failed (an error, not a failure)."""


class InstrumentTimeout(InstrumentError):
    """The instrument did not answer within the call's timeout."""


class ScpiError(InstrumentError):
    """The instrument reported errors raised by a setting: the message names the resource,
    the setting (``command``), the instrument, and every error drained from its queue."""

    def __init__(self, resource: str, command: str, errors: list[tuple[int, str]], *,
                 instrument: str = "", also: list[str] | tuple[str, ...] = (),
                 esr: int | None = None) -> None:
        self.resource = resource
        self.command = command
        self.errors = errors
        self.instrument = instrument
        self.also = list(also)  # later settings of the same message that raised errors too
        self.esr = esr
        listed = "; ".join(f"{code},\"{text}\"" for code, text in errors)
        if not errors:  # *ESR? flagged an error the error queue no longer holds
            listed = f"*ESR? {esr_text(esr or 0)} with an empty error queue"
        more = f" (and {', '.join(map(repr, self.also))} after it)" if self.also else ""
        who = f" [{instrument}]" if instrument else ""
        super().__init__(f"{resource}: {command!r} raised {listed}{more}{who}")

    @property
    def codes(self) -> list[int]:
        return [c for c, _ in self.errors]


class SafetyLimitError(InstrumentError):
    """A setting beyond the bench's safety limit for the DUT; nothing was sent."""


class UnknownInstrument(InstrumentError):
    """No driver knows the model the instrument reported in ``*IDN?``."""
