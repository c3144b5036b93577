"""Base of every virtual instrument: identity, common commands, error queue, DUT coupling."""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from typing import TYPE_CHECKING

from .scpi import Call, CommandSet, ErrorQueue, ScpiFault
from .status import StatusModel

if TYPE_CHECKING:
    from .coupling import DutSignals

HEARD = 64  # program messages an instrument remembers (what a test may ask it was sent)


class VirtualInstrument:
    """State and command set of one instrument; :mod:`.server` puts it on a TCP port."""

    maker = "QSM Virtual"
    model = "GENERIC"
    firmware = "1.0"
    error_format = '{code:+d},"{text}"'
    nr1_format = "{:+d}"  # how the model prints an integer answer (*ESR?, *STB?...)

    def __init__(self, serial: str = "VIRT0001", seed: int | None = None) -> None:
        self.serial = serial
        self.errors = ErrorQueue()
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.stalled = False  # a test switch: stop answering, like a hung instrument
        self.answer_delay = 0.0  # a test switch: answer this many seconds late (a busy one)
        self.source: DutSignals | None = None  # None: readings of a DUT that is off
        self.heard: deque[str] = deque(maxlen=HEARD)  # the last program messages, in order
        self.status = StatusModel(self.errors, questionable=self.questionable,
                                  operation=self.operation)
        self.commands = CommandSet()
        c = self.commands
        c.add("*IDN?", lambda call: self.idn)
        c.add("*RST", lambda call: self.reset())
        c.add("*OPC?", lambda call: "1")
        c.add("*WAI", lambda call: None)
        c.add("*TST?", lambda call: self.nr1(0))
        c.add("SYSTem:ERRor[:NEXT]?", self._next_error)
        c.add("SYSTem:VERSion?", lambda call: "1999.0")
        self.status.add_commands(c, self.nr1)
        self.setup(c)
        self.reset()

    # -- to override -------------------------------------------------------------------------
    def setup(self, commands: CommandSet) -> None:
        """Add the model's commands."""

    def reset(self) -> None:
        """Power-on / ``*RST`` state (status registers and the error queue are left alone)."""

    def questionable(self) -> int:
        """The questionable condition register now (SCPI bits; 0: nothing questionable)."""
        return 0

    def operation(self) -> int:
        """The operation condition register now."""
        return 0

    # -- common ------------------------------------------------------------------------------
    @property
    def idn(self) -> str:
        return f"{self.maker},{self.model},{self.serial},{self.firmware}"

    def nr1(self, value: int) -> str:
        return self.nr1_format.format(value)

    def _next_error(self, call: Call) -> str:
        code, text = self.errors.pop()
        return self.error_format.format(code=code, text=text)

    def couple(self, source: DutSignals) -> None:
        with self.lock:
            self.source = source

    def decouple(self) -> None:
        with self.lock:
            self.source = None

    def dwell(self, seconds: float) -> None:
        """The instrument takes ``seconds`` (integration, gate) of its bench's time: the chip's
        on chip time (see :meth:`DutSignals.wait`), the host's otherwise."""
        if self.source is None:
            time.sleep(seconds)
        else:
            self.source.wait(seconds)

    def handle(self, line: str) -> str | None:
        """Execute one program message; the joined answers of its queries, or None."""
        from .scpi import split_units

        answers = []
        with self.lock:
            self.heard.append(line)
            for unit in split_units(line):
                try:
                    out = self.commands.execute(unit)
                except ScpiFault as f:
                    self.errors.push(f.code, f.text)
                    continue
                except Exception as exc:  # a bug in a model must not kill the server
                    self.errors.push(-300, f"Device-specific error; {type(exc).__name__}: {exc}")
                    continue
                if out is not None:
                    answers.append(str(out))
        return ";".join(answers) if answers else None

    def noise(self, sigma: float) -> float:
        return self.rng.gauss(0.0, sigma)


def fmt(value: float) -> str:
    """SCPI NR3 number as the Keysight/Rigol instruments print it."""
    return f"{value:+.9E}"
