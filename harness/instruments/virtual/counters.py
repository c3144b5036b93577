"""Virtual Keysight 53220A counter. Channel 1 is wired to the chip's frequency output.

Frequency: the counter checks over its gate that the pin really toggles (the firmware's own
count of the edges it drives, read at the gate's start and end) and reads the period the
firmware programmed into the timer that drives it. Counting edges against host time is not
a measurement of the chip: QEMU coalesces the timer interrupts of a vCPU starved by a loaded
host, so the count drops with the host's load while the chip's timer runs at its programmed
rate. Duty cycle: the pin level sampled at ``DUTY_SAMPLES`` random instants spread over about
one gate. All of them are taken however long a loaded host makes the reads: the estimate's
standard error is sqrt(d(1-d)/n), 0.03 at n = 256, and a gate that cut the count short made
it wide enough (0.35..0.74 seen at n ~ 40) to fail a 50 % output.
"""

from __future__ import annotations

import time

from .instrument import VirtualInstrument, fmt
from .scpi import Call, CommandSet, channel_list

NO_VALUE = 9.91e37
DUTY_SAMPLES = 256


class Keysight53220A(VirtualInstrument):
    maker = "Agilent Technologies"
    model = "53220A"
    firmware = "02.05-1519.666-1.19-4.15-127-155-35"

    def reset(self) -> None:
        self.gate = 0.1
        self.function = "FREQ"
        self.last = NO_VALUE

    def _channel(self, call: Call) -> int:
        chans = channel_list(call.params[0]) if call.params else [1]
        return chans[0]

    def _wired(self, ch: int):
        return self.source if ch == 1 else None

    def frequency(self, ch: int) -> float:
        src = self._wired(ch)
        if src is None:
            return NO_VALUE
        e0 = src.edges()
        self.dwell(self.gate)
        e1 = src.edges()
        hz = src.timer_hz()
        if e0 is None or e1 is None or not hz or ((e1 - e0) & 0xFFFFFFFF) < 2:
            return NO_VALUE  # no signal on the input
        return hz * (1.0 + self.noise(2e-6))

    def duty(self, ch: int) -> float:
        src = self._wired(ch)
        if src is None or src.pin() is None:
            time.sleep(self.gate)
            return NO_VALUE
        levels = []
        for _ in range(DUTY_SAMPLES):
            time.sleep(self.rng.uniform(0.0, 2.0 * self.gate / DUTY_SAMPLES))
            levels.append(src.pin())
        if None in levels or len(set(levels)) < 2:
            return NO_VALUE  # no edges: a DC level has no duty cycle
        return sum(levels) / len(levels)

    def measure(self, function: str, ch: int) -> float:
        if function == "DCYC":
            return self.duty(ch)
        f = self.frequency(ch)
        if function == "PER" and f != NO_VALUE:
            return 1.0 / f
        return f

    def setup(self, c: CommandSet) -> None:
        def meas(function):
            def run(call):
                self.function = function
                self.last = self.measure(function, self._channel(call))
                return fmt(self.last)
            return run

        def conf(function):
            def run(call):
                self.function = function
                self._conf_channel = self._channel(call)
            return run

        self._conf_channel = 1
        for function, long_ in (("FREQ", "FREQuency"), ("PER", "PERiod"),
                                ("DCYC", "DCYCle")):
            c.add(f"MEASure:{long_}?", meas(function))
            c.add(f"CONFigure:{long_}", conf(function))
        c.add("[SENSe:]FREQuency:GATE:TIME",
              lambda call: setattr(self, "gate", call.number(0, lo=1e-4, hi=1000.0,
                                                             keywords={"MIN": 1e-4,
                                                                       "MAX": 1000.0,
                                                                       "DEF": 0.1})))
        c.add("[SENSe:]FREQuency:GATE:TIME?", lambda call: fmt(self.gate))
        c.add("READ?", lambda call: fmt(self.measure(self.function, self._conf_channel)))
        c.add("FETCh?", lambda call: fmt(self.last))
