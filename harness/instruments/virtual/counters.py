"""Virtual Keysight 53220A counter. Channel 1 is wired to the chip's frequency output.

Frequency: edges counted over the gate time (the firmware's own edge count of the pin it
toggles, read at the gate's start and end), against the counter's time base (host time).
Duty cycle: the pin level sampled at random instants over the gate.

An emulated chip on a loaded host can be starved of CPU time: its timer interrupts then
coalesce and edges are lost, which a real chip never does. The counter compares the chip's own
millisecond count with its time base over each gate and repeats a gate in which the chip fell
more than 0.5 % behind (at most ``STARVED_RETRIES`` times). A starved gate is timed by the
chip's own clock instead — its tick interrupts coalesce like the timer's, so edges per chip
millisecond stay true where edges per host second do not.
"""

from __future__ import annotations

import time

from .instrument import VirtualInstrument, fmt
from .scpi import Call, CommandSet, channel_list

NO_VALUE = 9.91e37
DUTY_SAMPLES = 64
STARVED_RETRIES = 3


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
        best = NO_VALUE
        for _ in range(STARVED_RETRIES):
            f, starved = self._gate_frequency(src)
            best = f
            if not starved:
                break
        return best

    def _gate_frequency(self, src) -> tuple[float, bool]:
        # the chip is halted while its edge count is read: the gate runs from the end of the
        # first read (the core resumes) to the start of the second (the core stops)
        e0 = src.edges() if src else None
        m0 = src.chip_ms() if src else None
        t0 = time.monotonic()
        time.sleep(self.gate)
        t1 = time.monotonic()
        e1 = src.edges() if src else None
        m1 = src.chip_ms() if src else None
        if e0 is None or e1 is None:
            return NO_VALUE, False
        starved = m0 is not None and m1 is not None and \
            ((m1 - m0) & 0xFFFFFFFF) < 0.995 * 1000 * (t1 - t0) - 1
        edges = (e1 - e0) & 0xFFFFFFFF
        if edges < 2:
            return NO_VALUE, False
        seconds = ((m1 - m0) & 0xFFFFFFFF) / 1000.0 if starved else t1 - t0
        return edges / 2.0 / seconds * (1.0 + self.noise(2e-6)), starved

    def duty(self, ch: int) -> float:
        src = self._wired(ch)
        if src is None or src.pin() is None:
            time.sleep(self.gate)
            return NO_VALUE
        levels = []
        end = time.monotonic() + self.gate
        for _ in range(DUTY_SAMPLES):
            time.sleep(self.rng.uniform(0.0, 2.0 * self.gate / DUTY_SAMPLES))
            levels.append(src.pin())
            if time.monotonic() > end:
                break
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
