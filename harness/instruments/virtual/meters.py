"""Virtual Keysight 34461A multimeter, wired to the DUT board.

Wiring on the emulated bench: DC volts across the motor inverter's 0–10 V speed reference,
DC amps in series with the board's supply, ohms across the water-temperature NTC.
"""

from __future__ import annotations

import math

from .coupling import Settling, load_for, ntc_ohms
from .instrument import VirtualInstrument, fmt
from .scpi import Call, CommandSet, Handler

RANGES = {
    "VOLT": (0.1, 1.0, 10.0, 100.0, 1000.0),
    "CURR": (1e-4, 1e-3, 1e-2, 0.1, 1.0, 3.0),
    "RES": (100.0, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8),
}
NPLCS = (0.02, 0.2, 1.0, 10.0, 100.0)
OVERLOAD = 9.9e37
LINE_HZ = 50.0
SPEC_PPM = {"VOLT": (15, 4), "CURR": (50, 5), "RES": (30, 5)}  # (of reading, of range)


class Keysight34461A(VirtualInstrument):
    maker = "Keysight Technologies"
    model = "34461A"
    firmware = "A.02.17-02.40-02.17-00.52-03-01"

    def reset(self) -> None:
        self.function = "VOLT"
        self.range: dict[str, float | None] = {f: None for f in RANGES}  # None = autorange
        self.nplc = {f: 10.0 for f in RANGES}
        self.last = 0.0
        self.settle = Settling(0.015)

    # -- what the meter's leads see ----------------------------------------------------------
    def true_value(self, func: str) -> float:
        src = self.source
        if func == "VOLT":
            return load_for(src).speed_reference(src.outputs()) if src else 0.0
        if func == "CURR":
            if src is None:
                return self.settle(0.0)
            return self.settle(load_for(src).current(src.outputs()), src.bench_time())
        temp = src.stimulus("temperature") if src else None
        return math.inf if temp is None else ntc_ohms(temp)  # open leads without a board

    def sample(self) -> float:
        func = self.function
        value = self.true_value(func)
        rng = self.range[func] or next((r for r in RANGES[func] if abs(value) <= r),
                                       RANGES[func][-1])
        self.dwell(self.nplc[func] / LINE_HZ)  # the integration time
        if not math.isfinite(value) or abs(value) > 1.2 * rng:
            return OVERLOAD
        of_reading, of_range = SPEC_PPM[func]
        sigma = (abs(value) * of_reading + rng * of_range) * 1e-6 / math.sqrt(self.nplc[func])
        return value + self.noise(sigma)

    # -- commands ----------------------------------------------------------------------------
    def _range(self, func: str, call: Call, i: int) -> None:
        if i >= len(call.params) or call.params[i].upper() in ("AUTO", "DEF", "DEFAULT"):
            self.range[func] = None
            return
        top = RANGES[func][-1]
        value = call.number(i, lo=0.0, hi=top, keywords={"MIN": RANGES[func][0], "MAX": top})
        self.range[func] = next(r for r in RANGES[func] if value <= r)

    def _nplc(self, func: str, call: Call) -> None:
        value = call.number(0, lo=NPLCS[0], hi=NPLCS[-1],
                            keywords={"MIN": NPLCS[0], "MAX": NPLCS[-1], "DEF": 10.0})
        self.nplc[func] = next(n for n in NPLCS if value <= n * 1.0001)

    def setup(self, c: CommandSet) -> None:
        def configure(f: str) -> Handler:
            def run(call: Call) -> None:
                self._range(f, call, 0)
                self.function = f
            return run

        def measure(f: str) -> Handler:
            def run(call: Call) -> str:
                configure(f)(call)
                self.last = self.sample()
                return fmt(self.last)
            return run

        def set_range(f: str, i: int) -> Handler:
            return lambda call: self._range(f, call, i)

        def range_q(f: str) -> Handler:
            return lambda call: fmt(self.range[f] or 0.0)

        def set_nplc(f: str) -> Handler:
            return lambda call: self._nplc(f, call)

        def nplc_q(f: str) -> Handler:
            return lambda call: fmt(self.nplc[f])

        def read(call: Call) -> str:
            self.last = self.sample()
            return fmt(self.last)

        def conf_q(call: Call) -> str:
            f = self.function
            rng = self.range[f] or 0.0
            name = {"VOLT": "VOLT", "CURR": "CURR", "RES": "RES"}[f]
            return f'"{name} {fmt(rng)},{fmt(1e-6)}"'

        for f, long_ in (("VOLT", "VOLTage[:DC]"), ("CURR", "CURRent[:DC]"),
                         ("RES", "RESistance")):
            c.add(f"CONFigure:{long_}", configure(f))
            c.add(f"MEASure:{long_}?", measure(f))
            c.add(f"[SENSe:]{long_}:RANGe[:UPPer]", set_range(f, 0))
            c.add(f"[SENSe:]{long_}:RANGe:AUTO", set_range(f, 99))
            c.add(f"[SENSe:]{long_}:RANGe[:UPPer]?", range_q(f))
            c.add(f"[SENSe:]{long_}:NPLCycles", set_nplc(f))
            c.add(f"[SENSe:]{long_}:NPLCycles?", nplc_q(f))
        c.add("CONFigure?", conf_q)
        c.add("READ?", read)
        c.add("INITiate[:IMMediate]", lambda call: setattr(self, "last", self.sample()))
        c.add("FETCh?", lambda call: fmt(self.last))
