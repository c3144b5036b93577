"""What the bench wiring sees of a running emulated chip, read through debug memory.

Each memory read halts the emulated core for ~0.2 ms, so readings of the chip's outputs are
cached for ``min_interval`` (20 ms: at most 50 reads/s however fast instruments are queried).
A chip that died or closed reads as off (``None``), like a board whose supply went away.

Unit-to-unit spread: on a production line no two boards draw the same current. A unit tested
under its serial number (``harness station run``, ``pytest --serial SN``) gets its own analog
parts — each board current, the speed reference's gain and offset, the clock behind the
frequency output — drawn once from its serial number within the part's tolerance
(:class:`UnitSpread`), so the same serial reads the same on every run and a line of units has a
real σ for Cp/Cpk. Without a serial number every board is nominal, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import random
import threading
import time

# lm3s6965 GPIO port F data register, all pins (address mask 0xFF << 2): PF0 is the board's
# frequency output (firmware/README.md, "Frequency output")
FREQ_PIN = (0x400253FC, 0x01)
# The timer that toggles that pin (lm3s6965 GPTM 0A, 32-bit periodic, clocked at the core's
# 12.5 MHz in QEMU): CTL.TAEN bit 0, TAILR the reload value; one toggle per timeout.
FREQ_TIMER = (0x4003000C, 0x40030028, 12_500_000)
# Waits in the chip's time (DutSignals.wait): s of wall time between two readings of its clock
WAIT_FIRST, WAIT_SHORTEST, WAIT_LONGEST = 0.002, 0.0005, 0.05
# The board clock's tolerance (trimmed internal oscillator): the frequency output's accuracy.
CLOCK_TOLERANCE = 0.0075


def unit_seed(unit_serial: str, what: str) -> int:
    """A stable 64-bit seed for ``what`` of one unit (the same in every process and run)."""
    digest = hashlib.sha256(f"{unit_serial}\0{what}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


class UnitSpread:
    """The analog parts of one unit, drawn from its serial number.

    Each part deviates from nominal by a normal variate with σ = tolerance / 3, truncated to
    ±tolerance (a part outside its tolerance does not pass incoming inspection). A part's draw
    depends only on the serial and the part's name: the same serial always gets the same board,
    whichever parts are asked for and in which order. ``unit_serial=None``: the nominal board.
    """

    def __init__(self, unit_serial: str | None = None) -> None:
        self.unit_serial = unit_serial
        self._drawn: dict[str, float] = {}

    def deviation(self, part: str, tolerance: float) -> float:
        """Relative (or absolute, for offsets) deviation of ``part``, within ±tolerance."""
        if self.unit_serial is None or tolerance <= 0:
            return 0.0
        if part not in self._drawn:  # a standard normal variate, truncated at ±3
            rng = random.Random(unit_seed(self.unit_serial, part))
            x = rng.gauss(0.0, 1.0)
            while abs(x) > 3.0:
                x = rng.gauss(0.0, 1.0)
            self._drawn[part] = x
        return self._drawn[part] * tolerance / 3.0

    def scaled(self, part: str, nominal: float, tolerance: float) -> float:
        """``nominal`` of a part with a relative ``tolerance`` (0.05: ±5 %)."""
        return nominal * (1.0 + self.deviation(part, tolerance))


NOMINAL = UnitSpread()


@contextlib.contextmanager
def _nothing():
    yield


class DutSignals:
    """``unit_serial``: the serial number of the unit on the bench (seeds its analog spread;
    None: a nominal board)."""

    def __init__(self, dut, min_interval: float = 0.02, unit_serial: str | None = None) -> None:
        self.dut = dut
        self.min_interval = min_interval
        self.spread = UnitSpread(unit_serial)
        self._lock = threading.Lock()
        self._at = -math.inf
        self._outputs: dict | None = None
        symbols = dut.symbols
        self.has_outputs = "outputs" in symbols
        self._edges_addr = symbols.address("freq_out.edges") if "freq_out" in symbols else None
        try:  # the firmware's 1 ms tick count (common/tick.c): the chip's own clock
            self._ms_addr = dut.image.symbol("ms_count").address
        except Exception:
            self._ms_addr = None
        self.reads = 0
        # (host s, chip ns, bench s) at the last reading of the bench clock; it goes on from
        # where the last Dut's left it: what settles on the board keeps one time line
        self._bench = (time.monotonic(), self._chip_ns(), _Bench.latest(time.monotonic()))

    @property
    def name(self) -> str:
        return self.dut.name

    def _read(self, fn):
        if not self.dut.alive:
            return None
        try:
            self.reads += 1
            return fn()
        except Exception:  # a DUT that goes away mid-read reads as off
            return None

    def outputs(self) -> dict | None:
        """The firmware's ``outputs`` struct (cached), None when the chip is gone."""
        if not self.has_outputs:
            return {} if self.dut.alive else None
        with self._lock:
            now = time.monotonic()
            if now - self._at >= self.min_interval:
                self._outputs = self._read(lambda: self.dut.symbols["outputs"])
                self._at = now
            return self._outputs

    def wait(self, seconds: float) -> None:
        """Let ``seconds`` of the bench's time pass: an instrument's integration time or gate.

        On chip time the emulated bench lives in the chip's time, as a real one lives in the
        board's: the wait ends once the chip has run ``seconds`` of its own time (an idle chip
        runs 15-40x the wall), and at the latest after ``seconds`` of the host's (a chip the test
        holds halted does not stop the instruments). Without a chip clock: a host sleep.
        """
        dut = self.dut
        if not (dut.alive and dut.has("clock")):
            time.sleep(seconds)
            return
        clock, want = dut.clock, int(seconds * 1e9)
        t0 = time.monotonic()
        host_end = t0 + seconds
        start = self._read(clock.now)
        step = min(seconds, WAIT_FIRST)
        while start is not None:
            left = host_end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(step, left))
            now = self._read(clock.now)
            if now is None or now - start >= want:
                return
            ran = time.monotonic() - t0
            rate = (now - start) / ran if ran > 0 and now > start else 0.0  # chip ns per s
            step = WAIT_LONGEST if rate <= 0 else max(WAIT_SHORTEST,
                                                      (want - (now - start)) / rate / 2)
        time.sleep(max(0.0, host_end - time.monotonic()))

    def _chip_ns(self) -> int | None:
        dut = self.dut
        return self._read(dut.clock.now) if dut.alive and dut.has("clock") else None

    def bench_time(self) -> float:
        """The bench's clock (s), for what settles on the board: it moves by the host's time or
        the chip's since the last reading, whichever moved more (a halted chip's board still
        settles; a chip on chip time running 20x the wall settles 20x as fast)."""
        chip = self._chip_ns()
        with self._lock:
            host0, chip0, bench = self._bench
            host = time.monotonic()
            moved = host - host0
            if chip is not None and chip0 is not None:
                moved = max(moved, (chip - chip0) / 1e9)
            self._bench = (host, chip, bench + max(0.0, moved))
            return _Bench.latest(self._bench[2])

    def stimulus(self, field: str) -> int | None:
        return self._read(lambda: self.dut.symbols[f"stimulus.{field}"])

    def edges(self) -> int | None:
        """Edges the firmware drove on its frequency output so far (None: no such output)."""
        if self._edges_addr is None:
            return None
        return self._read(lambda: self.dut.memory.read_u32(self._edges_addr))

    def chip_ms(self) -> int | None:
        """Milliseconds the chip counted since boot (None: unknown)."""
        if self._ms_addr is None:
            return None
        return self._read(lambda: self.dut.memory.read_u32(self._ms_addr))

    def timer_hz(self) -> float | None:
        """Frequency the firmware programmed into the timer that toggles the pin (0: stopped,
        None: no such output)."""
        if self._edges_addr is None:
            return None
        ctl_addr, reload_addr, nominal_clock = FREQ_TIMER
        clock = self.spread.scaled("board.clock", nominal_clock, CLOCK_TOLERANCE)

        def read() -> float:
            with self.dut.execution.paused() if self.dut.has("execution") else _nothing():
                enabled = self.dut.memory.read_u32(ctl_addr) & 1
                reload = self.dut.memory.read_u32(reload_addr)
            return clock / (2.0 * (reload + 1)) if enabled else 0.0

        return self._read(read)

    def pin(self) -> int | None:
        """Level of the frequency output pin now."""
        if self._edges_addr is None:
            return None
        addr, mask = FREQ_PIN
        v = self._read(lambda: self.dut.memory.read_u32(addr))
        return None if v is None else int(bool(v & mask))


class _Bench:
    """The latest bench time handed out in this process: a Dut's bench clock starts there, so
    the instruments' settling never sees time run backwards from one test's Dut to the next."""

    _lock = threading.Lock()
    _latest = 0.0

    @classmethod
    def latest(cls, value: float) -> float:
        """``value`` noted; the latest of all (``value`` itself unless another Dut's ran ahead)."""
        with cls._lock:
            cls._latest = max(cls._latest, value)
            return cls._latest


class Settling:
    """First-order settling towards a target (time constant ``tau`` seconds)."""

    def __init__(self, tau: float, value: float = 0.0) -> None:
        self.tau = tau
        self.value = value
        self._t = time.monotonic()

    def __call__(self, target: float, now: float | None = None) -> float:
        """The value now (``now``: the bench's time, s; the host's by default)."""
        now = time.monotonic() if now is None else now
        dt, self._t = max(0.0, now - self._t), now
        self.value = target + (self.value - target) * math.exp(-dt / self.tau)
        return self.value


class BoardLoad:
    """The DUT board's supply current (A) at its nominal voltage, from what the chip drives.

    Class attributes are the nominal board; ``tolerance`` gives each part's relative tolerance
    (±) around it, and an instance holds one unit's values (:class:`UnitSpread`)."""

    standby = 0.028  # core in reset / shell waiting: regulator + MCU
    tolerance: dict[str, float] = {"standby": 0.09}

    def __init__(self, spread: UnitSpread = NOMINAL) -> None:
        self.spread = spread
        self.standby = self._part("standby", type(self).standby)

    def _part(self, name: str, nominal: float) -> float:
        part = f"{type(self).__name__}.{name}"
        return self.spread.scaled(part, nominal, self.tolerance.get(name, 0.0))

    def current(self, outputs: dict | None) -> float:
        return 0.0 if outputs is None else self.standby

    def speed_reference(self, outputs: dict | None) -> float:
        """0–10 V analog speed reference to a motor inverter (0: the board drives none)."""
        return 0.0


class WasherLoad(BoardLoad):
    """QSM-W controller board at 12 V: MCU, relay coils, door-lock solenoid, motor inverter
    control (its drive stage scales with the commanded speed), and the 0–10 V speed reference
    (a DAC and an amplifier: gain and offset errors; disabled, 0 V, while the motor is off)."""

    standby = 0.045
    per_output = {"lock": 0.060, "valve": 0.120, "pump": 0.150, "heater": 0.080}
    motor_base = 0.200
    motor_per_rpm = 0.00025
    max_rpm = 1600  # the speed reference's full scale (10 V)
    tolerance = {"standby": 0.09, "lock": 0.06, "valve": 0.06, "pump": 0.06, "heater": 0.06,
                 "motor_base": 0.06, "motor_per_rpm": 0.06, "reference_gain": 0.0045,
                 "reference_offset": 0.012}  # the offset's in volts (absolute)

    def __init__(self, spread: UnitSpread = NOMINAL) -> None:
        super().__init__(spread)
        cls = type(self)
        self.per_output = {k: self._part(k, a) for k, a in cls.per_output.items()}
        self.motor_base = self._part("motor_base", cls.motor_base)
        self.motor_per_rpm = self._part("motor_per_rpm", cls.motor_per_rpm)
        self.reference_gain = self._part("reference_gain", 10.0 / cls.max_rpm)
        self.reference_offset = spread.deviation(f"{cls.__name__}.reference_offset",
                                                 self.tolerance["reference_offset"])

    def current(self, outputs: dict | None) -> float:
        if outputs is None:
            return 0.0
        amps = self.standby + sum(a for k, a in self.per_output.items() if outputs.get(k))
        if outputs.get("motor"):
            amps += self.motor_base + self.motor_per_rpm * outputs.get("motor_rpm", 0)
        return amps

    def speed_reference(self, outputs: dict | None) -> float:
        """0–10 V analog speed reference to the motor inverter."""
        if not outputs or not outputs.get("motor"):
            return 0.0
        rpm = min(outputs.get("motor_rpm", 0), self.max_rpm)
        return self.reference_gain * rpm + self.reference_offset


class TvLoad(BoardLoad):
    """QSM-T main board at 12 V: the panel interface (T-con), backlight enable and audio
    amplifier rails the chip switches (panel and backlight inverter have supplies of their own),
    and in standby only the MCU's standby domain — plus whatever leaks on the standby rail (a
    board fault the emulated build injects through ``stimulus.standby_leak_ua``)."""

    standby = 0.000420
    rails = {"panel": 0.350, "backlight": 0.050, "audio": 0.200}
    mcu_on = 0.030
    tolerance = {"standby": 0.08, "panel": 0.05, "backlight": 0.05, "audio": 0.05,
                 "mcu_on": 0.10}

    def __init__(self, signals: DutSignals) -> None:
        super().__init__(signals.spread)
        self.signals = signals
        self.rails = {k: self._part(k, a) for k, a in type(self).rails.items()}
        self.mcu_on = self._part("mcu_on", type(self).mcu_on)

    def current(self, outputs: dict | None) -> float:
        if outputs is None:
            return 0.0
        on = [r for r in self.rails if outputs.get(r)]
        if not on:
            leak = self.signals.stimulus("standby_leak_ua") or 0
            return self.standby + max(leak, 0) * 1e-6
        return self.mcu_on + sum(self.rails[r] for r in on)

    def speed_reference(self, outputs: dict | None) -> float:
        return 0.0


def load_for(signals: DutSignals | None) -> BoardLoad:
    if signals is None or not signals.has_outputs:
        return BoardLoad(signals.spread if signals is not None else NOMINAL)
    outputs = signals.outputs() or {}
    if "panel" in outputs:
        return TvLoad(signals)
    return WasherLoad(signals.spread)


def ntc_ohms(celsius: float, r25: float = 10_000.0, beta: float = 3950.0) -> float:
    """Resistance of the board's water-temperature NTC."""
    t = celsius + 273.15
    return r25 * math.exp(beta * (1.0 / t - 1.0 / 298.15))
