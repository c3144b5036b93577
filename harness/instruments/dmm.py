"""Digital multimeters: DC voltage, DC current, resistance, with range and integration time."""

from __future__ import annotations

from .base import Driver, reading

FUNCTIONS = {"dcv": "VOLT:DC", "dci": "CURR:DC", "ohm": "RES"}


class Multimeter(Driver):
    """Keysight/Agilent 344xx (Truevolt 34460A/61A/65A/70A and 34410A/11A) command set.

    A measurement configures the function only when function, range or NPLC changed since the
    last one, then triggers with ``READ?``: one round trip for repeated readings.
    """

    kind = "dmm"
    makers = r"(Keysight|Agilent) Technologies"
    models = r"344(6[015]|70|1[01])A"
    dialect = "Keysight 344xx"
    LINE_HZ = 50.0

    def __init__(self, session, name: str = "") -> None:
        super().__init__(session, name)
        self._config: tuple | None = None

    def configure(self, function: str, range_: float | None = None,
                  nplc: float | None = None) -> None:
        """``function`` is dcv, dci or ohm; ``range_`` None = autorange."""
        try:
            func = FUNCTIONS[function]
        except KeyError:
            raise ValueError(f"unknown function {function!r}; one of {sorted(FUNCTIONS)}") \
                from None
        key = (func, range_, nplc)
        if key == self._config:
            return
        self._config = None
        commands = [f"CONF:{func} {'AUTO' if range_ is None else f'{range_:g}'}"]
        if nplc is not None:
            commands.append(f"{func}:NPLC {nplc:g}")
        self.session.write_all(commands)  # one round trip, each checked on its own
        self._nplc = nplc or 10.0
        self._config = key

    def read(self) -> float:
        """Trigger and read one value with the current configuration."""
        # base budget: the integration time on top of the session's timeout (the session
        # multiplies it by its timeout factor)
        budget = int(self.session.timeout_ms + 1000 * self._nplc / self.LINE_HZ)
        return reading(self.session.query_float("READ?", timeout_ms=budget))

    def measure(self, function: str, range_: float | None = None,
                nplc: float | None = None) -> float:
        self.configure(function, range_, nplc)
        return self.read()

    def dc_voltage(self, range_: float | None = None, nplc: float | None = None) -> float:
        return self.measure("dcv", range_, nplc)

    def dc_current(self, range_: float | None = None, nplc: float | None = None) -> float:
        return self.measure("dci", range_, nplc)

    def resistance(self, range_: float | None = None, nplc: float | None = None) -> float:
        return self.measure("ohm", range_, nplc)


DIALECTS = (Multimeter,)
