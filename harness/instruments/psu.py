"""Programmable DC supplies: one interface, a dialect per maker's command set."""

from __future__ import annotations

from abc import ABC, abstractmethod

from .base import Driver, reading
from .safety import SafetyLimits
from .scpi import ScpiSession


class PowerSupply(Driver, ABC):
    """Set voltage and current limit, switch outputs, measure — per channel, within limits."""

    kind = "psu"
    channels: int = 1

    def __init__(self, session: ScpiSession, limits: SafetyLimits, name: str = "") -> None:
        super().__init__(session, name)
        self.limits = limits

    # -- the dialect: command text per operation ---------------------------------------------
    @abstractmethod
    def _set_voltage(self, ch: int, volts: float) -> str:
        ...

    @abstractmethod
    def _set_current(self, ch: int, amps: float) -> str:
        ...

    @abstractmethod
    def _apply(self, ch: int, volts: float, amps: float) -> str:
        """Voltage and current limit in one setting (``APPLy``)."""

    @abstractmethod
    def _output(self, ch: int, on: bool) -> str:
        ...

    @abstractmethod
    def _output_query(self, ch: int) -> str:
        ...

    @abstractmethod
    def _measure(self, what: str, ch: int) -> str:
        ...

    # -- operations --------------------------------------------------------------------------
    def _check_channel(self, ch: int) -> None:
        if not 1 <= ch <= self.channels:
            from .errors import InstrumentError

            raise InstrumentError(f"{self.name}: {self.identity.model} has channels "
                                  f"1..{self.channels}, not {ch}")

    def set_voltage(self, ch: int, volts: float) -> None:
        self._check_channel(ch)
        self.limits.check_voltage(ch, volts)
        self.session.write(self._set_voltage(ch, volts))

    def set_current_limit(self, ch: int, amps: float) -> None:
        self._check_channel(ch)
        self.limits.check_current(ch, amps)
        self.session.write(self._set_current(ch, amps))

    def output(self, ch: int, on: bool) -> None:
        """Switch a channel's output; waits (``*OPC?``) until the output settled. One round
        trip: the switch, ``*OPC?`` and its error check go in one message."""
        self._check_channel(ch)
        if on:
            self.limits.channel(ch)
        self.session.write(self._output(ch, on), opc=True)

    def output_on(self, ch: int) -> bool:
        answer = self.session.query(self._output_query(ch)).upper()
        return answer in ("1", "ON")

    def measure_voltage(self, ch: int) -> float:
        return reading(self.session.query_float(self._measure("VOLT", ch)))

    def measure_current(self, ch: int) -> float:
        return reading(self.session.query_float(self._measure("CURR", ch)))

    def apply(self, ch: int, volts: float, current_limit: float | None = None) -> None:
        """Voltage and current limit (both checked against the safety limits before anything
        is sent) in one ``APPLy`` setting: the instrument takes both at once, so the new
        voltage never meets the old limit, and the message is ~40 % shorter than two
        settings' (on a serial line, time is bytes). Without a current limit: the voltage
        alone."""
        self._check_channel(ch)
        self.limits.check_voltage(ch, volts)
        if current_limit is None:
            self.session.write(self._set_voltage(ch, volts))
            return
        self.limits.check_current(ch, current_limit)
        self.session.write(self._apply(ch, volts, current_limit))

    def all_off(self) -> None:
        """Every channel with limits off (what every exit path of a test does), in one
        message."""
        self.session.write_all([self._output(ch, False) for ch in sorted(self.limits.channels)
                                if 1 <= ch <= self.channels], opc=True)


class KeysightE36xx(PowerSupply):
    """Keysight E36300 series (E36311A/E36312A/E36313A): channel lists ``(@n)``."""

    makers = r"(Keysight|Agilent) Technologies"
    models = r"E363[01][123]A"
    dialect = "Keysight E36xx"
    channels = 3

    def _set_voltage(self, ch, volts):
        return f"VOLT {volts:.4f},(@{ch})"

    def _set_current(self, ch, amps):
        return f"CURR {amps:.4f},(@{ch})"

    def _apply(self, ch, volts, amps):
        return f"APPL CH{ch},{volts:.4f},{amps:.4f}"

    def _output(self, ch, on):
        return f"OUTP {'ON' if on else 'OFF'},(@{ch})"

    def _output_query(self, ch):
        return f"OUTP? (@{ch})"

    def _measure(self, what, ch):
        return f"MEAS:{what}? (@{ch})"


class RigolDP8xx(PowerSupply):
    """Rigol DP800 series (DP811/DP821/DP831/DP832): ``:SOURn:`` and ``CHn`` arguments."""

    makers = r"RIGOL TECHNOLOGIES"
    models = r"DP8[1-3][1-2]A?"
    dialect = "Rigol DP8xx"

    def __init__(self, session, limits, name=""):
        super().__init__(session, limits, name)
        model = self.identity.model.upper()
        self.channels = {"DP811": 1, "DP821": 2}.get(model.rstrip("A"), 3)

    def _set_voltage(self, ch, volts):
        return f":SOUR{ch}:VOLT {volts:.3f}"

    def _set_current(self, ch, amps):
        return f":SOUR{ch}:CURR {amps:.3f}"

    def _apply(self, ch, volts, amps):
        return f":APPL CH{ch},{volts:.3f},{amps:.3f}"

    def _output(self, ch, on):
        return f":OUTP CH{ch},{'ON' if on else 'OFF'}"

    def _output_query(self, ch):
        return f":OUTP? CH{ch}"

    def _measure(self, what, ch):
        return f":MEAS:{what}? CH{ch}"


DIALECTS = (KeysightE36xx, RigolDP8xx)
