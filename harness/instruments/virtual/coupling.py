"""What the bench wiring sees of a running emulated chip, read through debug memory.

Each memory read halts the emulated core for ~0.2 ms, so readings of the chip's outputs are
cached for ``min_interval`` (20 ms: at most 50 reads/s however fast instruments are queried).
A chip that died or closed reads as off (``None``), like a board whose supply went away.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time

# lm3s6965 GPIO port F data register, all pins (address mask 0xFF << 2): PF0 is the board's
# frequency output (firmware/README.md, "Frequency output")
FREQ_PIN = (0x400253FC, 0x01)
# The timer that toggles that pin (lm3s6965 GPTM 0A, 32-bit periodic, clocked at the core's
# 12.5 MHz in QEMU): CTL.TAEN bit 0, TAILR the reload value; one toggle per timeout.
FREQ_TIMER = (0x4003000C, 0x40030028, 12_500_000)


@contextlib.contextmanager
def _nothing():
    yield


class DutSignals:
    def __init__(self, dut, min_interval: float = 0.02) -> None:
        self.dut = dut
        self.min_interval = min_interval
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
        ctl_addr, reload_addr, clock = FREQ_TIMER

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


class Settling:
    """First-order settling towards a target (time constant ``tau`` seconds)."""

    def __init__(self, tau: float, value: float = 0.0) -> None:
        self.tau = tau
        self.value = value
        self._t = time.monotonic()

    def __call__(self, target: float) -> float:
        now = time.monotonic()
        dt, self._t = now - self._t, now
        self.value = target + (self.value - target) * math.exp(-dt / self.tau)
        return self.value


class BoardLoad:
    """The DUT board's supply current (A) at its nominal voltage, from what the chip drives."""

    standby = 0.028  # core in reset / shell waiting: regulator + MCU

    def current(self, outputs: dict | None) -> float:
        return 0.0 if outputs is None else self.standby

    def speed_reference(self, outputs: dict | None) -> float:
        """0–10 V analog speed reference to a motor inverter (0: the board drives none)."""
        return 0.0


class WasherLoad(BoardLoad):
    """QSM-W controller board at 12 V: MCU, relay coils, door-lock solenoid, motor inverter
    control (its drive stage scales with the commanded speed)."""

    standby = 0.045
    per_output = {"lock": 0.060, "valve": 0.120, "pump": 0.150, "heater": 0.080}
    motor_base = 0.200
    motor_per_rpm = 0.00025
    max_rpm = 1600  # the speed reference's full scale (10 V)

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
        return 10.0 * min(outputs.get("motor_rpm", 0), self.max_rpm) / self.max_rpm


class TvLoad(BoardLoad):
    """QSM-T main board at 12 V: the panel interface (T-con), backlight enable and audio
    amplifier rails the chip switches (panel and backlight inverter have supplies of their own),
    and in standby only the MCU's standby domain — plus whatever leaks on the standby rail (a
    board fault the emulated build injects through ``stimulus.standby_leak_ua``)."""

    standby = 0.000420
    rails = {"panel": 0.350, "backlight": 0.050, "audio": 0.200}
    mcu_on = 0.030

    def __init__(self, signals: DutSignals) -> None:
        self.signals = signals

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
        return BoardLoad()
    outputs = signals.outputs() or {}
    if "panel" in outputs:
        return TvLoad(signals)
    return WasherLoad()


def ntc_ohms(celsius: float, r25: float = 10_000.0, beta: float = 3950.0) -> float:
    """Resistance of the board's water-temperature NTC."""
    t = celsius + 273.15
    return r25 * math.exp(beta * (1.0 / t - 1.0 / 298.15))
