"""IEEE 488.2 status reporting of a virtual instrument, with the SCPI questionable and operation
registers on top.

Standard Event Status Register (``*ESR?``, read and cleared at once): an error pushed onto the
error queue sets the bit of its class: -1xx command error (CME, bit 5), -2xx execution error
(EXE, bit 4), -3xx and positive device-specific codes device-dependent error (DDE, bit 3),
-4xx query error (QYE, bit 2). ``*OPC`` sets OPC (bit 0) once pending operations are done (at
once here: no operation overlaps); power-on sets PON (bit 7). ``*ESE`` selects the bits that
raise ESB in the status byte.

Status byte (``*STB?``, not cleared by reading): EAV (bit 2) while the error queue holds an
error, QUES (bit 3) the questionable summary, MAV (bit 4) never set here (an answer is
delivered before the next command is read), ESB (bit 5), MSS (bit 6) when a bit enabled by
``*SRE`` is set, OPER (bit 7) the operation summary.

SCPI register groups (``STATus:QUEStionable``, ``STATus:OPERation``): a condition register the
model computes when it is read (a supply: is a channel in current limit now?), an event
register that latches the condition's positive transitions seen by any status read or
reading and is cleared when read, and an enable register. ``*CLS`` clears the error queue,
``*ESR`` and both event registers; ``STATus:PRESet`` clears both enable registers; ``*RST``
leaves status alone, as IEEE 488.2 asks.
"""

from __future__ import annotations

from collections.abc import Callable

from .scpi import Call, CommandSet, ErrorQueue

# *ESR bits
OPC, RQC, QYE, DDE, EXE, CME, URQ, PON = (1 << i for i in range(8))
# status byte bits
EAV, QSB, MAV, ESB, MSS, OSB = 1 << 2, 1 << 3, 1 << 4, 1 << 5, 1 << 6, 1 << 7
# questionable register bits (SCPI-99, as Keysight and Rigol supplies use them)
QUES_VOLTAGE = 1 << 0  # the voltage is not regulated: an output in current limit (CC)
QUES_CURRENT = 1 << 1


def esr_bit(code: int) -> int:
    """The ``*ESR`` bit an error of ``code`` sets."""
    if -199 <= code <= -100:
        return CME
    if -299 <= code <= -200:
        return EXE
    if -499 <= code <= -400:
        return QYE
    return DDE  # -3xx, and device-specific (positive) codes


class Register:
    """One SCPI register group: condition, latched event, enable."""

    def __init__(self, condition: Callable[[], int] = lambda: 0) -> None:
        self._condition = condition
        self.last = 0     # the condition as last seen
        self.event = 0
        self.enable = 0

    def condition(self) -> int:
        """Sample the condition now, latching its positive transitions into the event."""
        now = self._condition() & 0x7FFF
        self.event |= now & ~self.last
        self.last = now
        return now

    def read_event(self) -> int:
        self.condition()
        event, self.event = self.event, 0
        return event

    def summary(self) -> bool:
        self.condition()
        return bool(self.event & self.enable)


class StatusModel:
    """The status registers of one instrument, fed by its error queue."""

    def __init__(self, errors: ErrorQueue, questionable: Callable[[], int] = lambda: 0,
                 operation: Callable[[], int] = lambda: 0) -> None:
        self.errors = errors
        self.esr = PON
        self.ese = 0
        self.sre = 0
        self.questionable = Register(questionable)
        self.operation = Register(operation)
        errors.listener = self.error

    def error(self, code: int) -> None:
        self.esr |= esr_bit(code)

    def stb(self) -> int:
        stb = 0
        if len(self.errors):
            stb |= EAV
        if self.questionable.summary():
            stb |= QSB
        if self.esr & self.ese:
            stb |= ESB
        if self.operation.summary():
            stb |= OSB
        if stb & self.sre & ~MSS:
            stb |= MSS
        return stb

    def read_esr(self) -> int:
        esr, self.esr = self.esr, 0
        return esr

    def clear(self) -> None:
        """``*CLS``."""
        self.errors.clear()
        self.esr = 0
        for reg in (self.questionable, self.operation):
            reg.condition()
            reg.event = 0

    def preset(self) -> None:
        """``STATus:PRESet``."""
        self.questionable.enable = 0
        self.operation.enable = 0

    def add_commands(self, c: CommandSet, nr1: Callable[[int], str]) -> None:
        """The common status commands and the ``STATus`` subsystem; ``nr1`` formats an
        integer answer the way the instrument prints it."""
        def set_ese(call: Call) -> None:
            self.ese = int(call.number(0, lo=0, hi=255))

        def set_sre(call: Call) -> None:
            self.sre = int(call.number(0, lo=0, hi=255)) & ~MSS  # bit 6 cannot be enabled

        def set_opc(call: Call) -> None:
            self.esr |= OPC  # nothing overlaps here: every operation is complete at once

        c.add("*CLS", lambda call: self.clear())
        c.add("*ESE", set_ese)
        c.add("*ESE?", lambda call: nr1(self.ese))
        c.add("*ESR?", lambda call: nr1(self.read_esr()))
        c.add("*SRE", set_sre)
        c.add("*SRE?", lambda call: nr1(self.sre))
        c.add("*STB?", lambda call: nr1(self.stb()))
        c.add("*OPC", set_opc)
        c.add("SYSTem:ERRor:COUNt?", lambda call: nr1(len(self.errors)))
        c.add("STATus:PRESet", lambda call: self.preset())
        for node, reg in (("QUEStionable", self.questionable), ("OPERation", self.operation)):
            self._add_register(c, node, reg, nr1)

    @staticmethod
    def _add_register(c: CommandSet, node: str, reg: Register,
                      nr1: Callable[[int], str]) -> None:
        def enable(call: Call) -> None:
            reg.enable = int(call.number(0, lo=0, hi=32767))

        c.add(f"STATus:{node}[:EVENt]?", lambda call: nr1(reg.read_event()))
        c.add(f"STATus:{node}:CONDition?", lambda call: nr1(reg.condition()))
        c.add(f"STATus:{node}:ENABle", enable)
        c.add(f"STATus:{node}:ENABle?", lambda call: nr1(reg.enable))
