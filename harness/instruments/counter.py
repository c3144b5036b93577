"""Frequency counters: frequency, period and duty cycle of a channel over a gate time."""

from __future__ import annotations

from .base import Driver, reading


class Counter(Driver):
    """Keysight/Agilent 53220A/53230A universal counter command set."""

    kind = "counter"
    makers = r"(Keysight|Agilent) Technologies"
    models = r"5322[03]A|5313[12]A"
    dialect = "Keysight 532xx"

    def __init__(self, session, name: str = "") -> None:
        super().__init__(session, name)
        self._gate: float | None = None

    def set_gate(self, seconds: float) -> None:
        if seconds != self._gate:
            self.session.write(f"SENS:FREQ:GATE:TIME {seconds:g}")
            self._gate = seconds

    def _budget(self) -> int:
        """Base budget of a measurement (the session multiplies it by its timeout factor)."""
        # a virtual counter may repeat a gate in which the emulated chip was starved
        return int(self.session.timeout_ms + 4000 * (self._gate or 0.1))

    def frequency(self, channel: int = 1, gate: float = 0.1) -> float:
        """Hz (nan when there is no signal)."""
        self.set_gate(gate)
        return reading(self.session.query_float(f"MEAS:FREQ? (@{channel})",
                                                timeout_ms=self._budget()))

    def period(self, channel: int = 1, gate: float = 0.1) -> float:
        self.set_gate(gate)
        return reading(self.session.query_float(f"MEAS:PER? (@{channel})",
                                                timeout_ms=self._budget()))

    def duty_cycle(self, channel: int = 1) -> float:
        """Fraction 0..1 of the period the signal is high."""
        # averaged over hundreds of cycles: a virtual counter samples the pin that many times
        return reading(self.session.query_float(f"MEAS:DCYC? (@{channel})",
                                                timeout_ms=self._budget() + 6000))


DIALECTS = (Counter,)
