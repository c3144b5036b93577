"""Virtual programmable supplies in two dialects, with the DUT's load on one channel."""

from __future__ import annotations

from dataclasses import dataclass, field

from .coupling import Settling, load_for
from .instrument import VirtualInstrument, fmt
from .scpi import Call, CommandSet, ScpiFault, channel_list
from .status import QUES_VOLTAGE

NOISE_A = 0.0003   # current readback noise: 0.3 mA + 0.1 % of reading
NOISE_V = 0.0008
TAU = 0.015        # the board's input capacitance and regulators settle in ~50 ms


@dataclass
class Channel:
    max_v: float
    max_a: float
    volts: float = 0.0
    amps: float = 0.1
    on: bool = False
    settle: Settling = field(default_factory=lambda: Settling(TAU))


class VirtualSupply(VirtualInstrument):
    ratings: tuple[tuple[float, float], ...] = ((30.0, 3.0),)

    def __init__(self, serial: str = "VIRT0001", seed: int | None = None,
                 dut_channel: int = 1) -> None:
        self.dut_channel = dut_channel
        self.selected = 1
        # a test switch: resistors wired across a channel's terminals (ohms), besides the DUT
        self.resistors: dict[int, float] = {}
        super().__init__(serial, seed)

    def reset(self) -> None:
        self.ch = {i + 1: Channel(v, a) for i, (v, a) in enumerate(self.ratings)}
        self.selected = 1

    # -- electrical model --------------------------------------------------------------------
    def _load(self, n: int) -> float:
        """Current the DUT (and any resistor) draws from channel n now (settled, before the
        current limit)."""
        c, src = self.ch[n], self.source
        now = src.bench_time() if src is not None else None
        if not c.on:
            return c.settle(0.0, now)
        amps = 0.0
        if n == self.dut_channel and src is not None:
            amps += load_for(src).current(src.outputs())
        if self.resistors.get(n):
            amps += c.volts / self.resistors[n]
        return c.settle(amps, now)

    def measure_current(self, n: int) -> float:
        c = self.ch[n]
        amps = min(self._load(n), c.amps) if c.on else 0.0
        return max(0.0, amps + self.noise(NOISE_A + 0.001 * amps)) if c.on else 0.0

    def measure_voltage(self, n: int) -> float:
        c = self.ch[n]
        if not c.on:
            return abs(self.noise(0.0002))
        load = self._load(n)
        volts = c.volts * (c.amps / load) if load > c.amps else c.volts  # constant current
        return volts + self.noise(NOISE_V)

    # -- status ------------------------------------------------------------------------------
    def mode(self, n: int) -> int:
        """Channel n's regulation as ``STAT:QUES:INST:ISUM<n>:COND?`` bits: 0 output off,
        1 constant current (in current limit: the voltage is not regulated), 2 constant
        voltage."""
        c = self.ch[n]
        if not c.on:
            return 0
        return 1 if self._load(n) > c.amps else 2

    def questionable(self) -> int:
        """Bit 0 (VOLTage): an output is in current limit."""
        return QUES_VOLTAGE if any(self.mode(n) == 1 for n in self.ch) else 0

    # -- helpers for the dialects ------------------------------------------------------------
    def channel(self, n: int) -> Channel:
        if n not in self.ch:
            raise ScpiFault(-222, f"channel {n} (this model has 1..{len(self.ch)})")
        return self.ch[n]

    def channel_number(self, n: int) -> int:
        """``n``, checked to be one of this model's channels."""
        self.channel(n)
        return n

    def volts_of(self, n: int, call: Call, i: int) -> float:
        c = self.channel(n)
        return call.number(i, lo=0.0, hi=c.max_v, keywords={"MIN": 0.0, "MAX": c.max_v,
                                                             "DEF": 0.0})

    def amps_of(self, n: int, call: Call, i: int) -> float:
        c = self.channel(n)
        return call.number(i, lo=0.0, hi=c.max_a, keywords={"MIN": 0.0, "MAX": c.max_a,
                                                             "DEF": 0.1})

    def set_volts(self, n: int, call: Call, i: int) -> None:
        self.channel(n).volts = self.volts_of(n, call, i)

    def set_amps(self, n: int, call: Call, i: int) -> None:
        self.channel(n).amps = self.amps_of(n, call, i)

    def apply_values(self, n: int, call: Call, first: int) -> None:
        """``APPLy``'s voltage (and current) from parameter ``first`` on: both are checked
        before either is taken (a refused one changes nothing)."""
        volts = self.volts_of(n, call, first)
        amps = self.amps_of(n, call, first + 1) if len(call.params) > first + 1 else None
        self.ch[n].volts = volts
        if amps is not None:
            self.ch[n].amps = amps

    def setup(self, c: CommandSet) -> None:
        """Commands both dialects share (the models add theirs after calling this)."""
        c.add("STATus:QUEStionable:INSTrument:ISUMmary#:CONDition?",
              lambda call: self.nr1(self.mode(self.channel_number(call.suffix(0, 1)))))


class KeysightE36312A(VirtualSupply):
    """E36312A: 6 V/5 A + 2 × 25 V/1 A; channel lists ``(@n)``, else the selected channel."""

    maker = "Keysight Technologies"
    model = "E36312A"
    firmware = "2.1.0-1.0.4-1.12"
    ratings = ((6.18, 5.15), (25.75, 1.03), (25.75, 1.03))

    def _chans(self, call: Call, i: int) -> list[int]:
        if i < len(call.params):
            return [self.channel_number(n) for n in channel_list(call.params[i])]
        return [self.selected]

    def setup(self, c: CommandSet) -> None:
        def volt(call):
            for n in self._chans(call, 1):
                self.set_volts(n, call, 0)

        def curr(call):
            for n in self._chans(call, 1):
                self.set_amps(n, call, 0)

        def outp(call):
            for n in self._chans(call, 1):
                self.channel(n).on = call.boolean(0)

        def select(call):
            text = call.param(0).upper()
            if not text.startswith("CH") or not text[2:].isdigit():
                raise ScpiFault(-224, text)
            self.selected = self.channel_number(int(text[2:]))

        def apply_channel(call):
            text = call.param(0, f"CH{self.selected}").upper()
            if not text.startswith("CH") or not text[2:].isdigit():
                raise ScpiFault(-224, text)
            return self.channel_number(int(text[2:]))

        def apply(call):
            self.apply_values(apply_channel(call), call, 1)

        def apply_q(call):  # as the E3631A family answers it: a quoted string
            c = self.ch[apply_channel(call)]
            return f'"{c.volts:+.6E},{c.amps:+.6E}"'

        super().setup(c)
        c.add("[SOURce:]VOLTage[:LEVel][:IMMediate][:AMPLitude]", volt)
        c.add("[SOURce:]VOLTage[:LEVel][:IMMediate][:AMPLitude]?",
              lambda call: ",".join(fmt(self.ch[n].volts) for n in self._chans(call, 0)))
        c.add("[SOURce:]CURRent[:LEVel][:IMMediate][:AMPLitude]", curr)
        c.add("[SOURce:]CURRent[:LEVel][:IMMediate][:AMPLitude]?",
              lambda call: ",".join(fmt(self.ch[n].amps) for n in self._chans(call, 0)))
        c.add("OUTPut[:STATe]", outp)
        c.add("OUTPut[:STATe]?",
              lambda call: ",".join("1" if self.ch[n].on else "0" for n in self._chans(call, 0)))
        c.add("MEASure[:SCALar]:VOLTage[:DC]?",
              lambda call: ",".join(fmt(self.measure_voltage(n)) for n in self._chans(call, 0)))
        c.add("MEASure[:SCALar]:CURRent[:DC]?",
              lambda call: ",".join(fmt(self.measure_current(n)) for n in self._chans(call, 0)))
        c.add("INSTrument[:SELect]", select)
        c.add("INSTrument[:SELect]?", lambda call: f"CH{self.selected}")
        c.add("INSTrument:NSELect",
              lambda call: setattr(self, "selected",
                                   int(call.number(0, lo=1, hi=len(self.ch)))))
        c.add("INSTrument:NSELect?", lambda call: str(self.selected))
        c.add("APPLy", apply)
        c.add("APPLy?", apply_q)


class RigolDP832(VirtualSupply):
    """DP832: 2 × 30 V/3 A + 5 V/3 A; ``:SOURn:`` headers and ``CHn`` arguments."""

    maker = "RIGOL TECHNOLOGIES"
    model = "DP832"
    firmware = "00.01.16"
    error_format = '{code:d},"{text}"'
    nr1_format = "{:d}"
    ratings = ((32.0, 3.2), (32.0, 3.2), (5.3, 3.2))

    def _arg_chan(self, call: Call, i: int) -> int:
        if i < len(call.params):
            text = call.param(i).upper()
            if text.startswith("CH") and text[2:].isdigit():
                return self.channel_number(int(text[2:]))
            raise ScpiFault(-224, text)
        return self.selected

    def setup(self, c: CommandSet) -> None:
        def src(call):
            return call.suffix(0, self.selected) if call.suffixes else self.selected

        def outp(call):
            if len(call.params) == 2:
                self.channel(self._arg_chan(call, 0)).on = call.boolean(1)
            else:
                self.channel(self.selected).on = call.boolean(0)

        def apply(call):
            """``:APPL CHn[,<volt>[,<curr>]]`` selects the channel and sets it;
            ``:APPL <volt>[,<curr>]`` sets the selected one."""
            if call.params and call.param(0).upper().startswith("CH"):
                n, first = self._arg_chan(call, 0), 1
            else:
                n, first = self.selected, 0
            if len(call.params) > first:
                self.apply_values(n, call, first)
            self.selected = n

        def apply_q(call):
            """``:APPL? [CHn[,VOLT|CURR]]``: ``CH1,5.000,1.0000``, or the one value asked."""
            n = self._arg_chan(call, 0)
            c = self.ch[n]
            if len(call.params) < 2:
                return f"CH{n},{c.volts:.3f},{c.amps:.4f}"
            what = call.param(1).upper()
            if len(what) >= 4 and "VOLTAGE".startswith(what):
                return f"{c.volts:.3f}"
            if len(what) >= 4 and "CURRENT".startswith(what):
                return f"{c.amps:.4f}"
            raise ScpiFault(-224, what)

        super().setup(c)
        c.add("SOURce#:VOLTage[:LEVel][:IMMediate][:AMPLitude]",
              lambda call: self.set_volts(src(call), call, 0))
        c.add("VOLTage[:LEVel][:IMMediate][:AMPLitude]",
              lambda call: self.set_volts(self.selected, call, 0))
        c.add("SOURce#:VOLTage[:LEVel][:IMMediate][:AMPLitude]?",
              lambda call: f"{self.channel(src(call)).volts:.3f}")
        c.add("SOURce#:CURRent[:LEVel][:IMMediate][:AMPLitude]",
              lambda call: self.set_amps(src(call), call, 0))
        c.add("CURRent[:LEVel][:IMMediate][:AMPLitude]",
              lambda call: self.set_amps(self.selected, call, 0))
        c.add("SOURce#:CURRent[:LEVel][:IMMediate][:AMPLitude]?",
              lambda call: f"{self.channel(src(call)).amps:.3f}")
        c.add("OUTPut[:STATe]", outp)
        c.add("OUTPut[:STATe]?",
              lambda call: "ON" if self.channel(self._arg_chan(call, 0)).on else "OFF")
        c.add("MEASure[:VOLTage][:DC]?",
              lambda call: f"{self.measure_voltage(self._arg_chan(call, 0)):.3f}")
        c.add("MEASure:CURRent[:DC]?",
              lambda call: f"{self.measure_current(self._arg_chan(call, 0)):.4f}")
        c.add("INSTrument[:SELect]",
              lambda call: setattr(self, "selected", self._arg_chan(call, 0)))
        c.add("INSTrument:NSELect",
              lambda call: setattr(self, "selected",
                                   int(call.number(0, lo=1, hi=len(self.ch)))))
        c.add("APPLy", apply)
        c.add("APPLy?", apply_q)
