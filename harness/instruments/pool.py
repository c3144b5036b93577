"""The instruments of one test run: opened once, leased while in use, all outputs off at the end.

Virtual instruments (``virtual:<model>``) are started in this process on first use; real ones
are leased (a file lock per resource string) so two workers never drive the same supply.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from ..bench import Bench, Instrument, lease
from .base import Driver
from .errors import InstrumentError
from .psu import PowerSupply

if TYPE_CHECKING:
    from .virtual.instrument import VirtualInstrument
    from .virtual.lab import VirtualLab


class BoundSupply:
    """A supply driver bound to the channel that feeds this slot's DUT."""

    def __init__(self, driver: PowerSupply, channel: int) -> None:
        self.driver = driver
        self.channel = channel
        self.limits = driver.limits.channel(channel)

    def power_on(self) -> None:
        """Nominal voltage and current limit from the inventory, then output on."""
        lim = self.limits
        if lim.voltage is None:
            raise InstrumentError(f"{self.driver.name}: channel {self.channel} has no nominal "
                                  f"'voltage' in the bench inventory")
        self.driver.apply(self.channel, lim.voltage, lim.current_limit)
        self.driver.output(self.channel, True)

    def power_off(self) -> None:
        self.driver.output(self.channel, False)

    def set_voltage(self, volts: float) -> None:
        self.driver.set_voltage(self.channel, volts)

    def set_current_limit(self, amps: float) -> None:
        self.driver.set_current_limit(self.channel, amps)

    def current(self) -> float:
        return self.driver.measure_current(self.channel)

    def voltage(self) -> float:
        return self.driver.measure_voltage(self.channel)

    @property
    def output_on(self) -> bool:
        return self.driver.output_on(self.channel)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.driver, name)

    def __repr__(self) -> str:
        return f"<BoundSupply {self.driver!r} channel {self.channel}>"


class InstrumentPool:
    """``timeout_factor`` scales every instrument wait (the run's factor for a loaded host)."""

    def __init__(self, bench: Bench, timeout_factor: float = 1.0) -> None:
        self.bench = bench
        self.timeout_factor = timeout_factor
        self._drivers: dict[str, Driver] = {}
        self._stack = contextlib.ExitStack()
        self._lab: VirtualLab | None = None

    @property
    def lab(self) -> VirtualLab:
        if self._lab is None:
            from .virtual.lab import VirtualLab

            self._lab = VirtualLab()
        return self._lab

    def find(self, kind: str, slot: int) -> Instrument | None:
        found = self.bench.instruments_for(kind, slot)
        return found[0] if found else None

    def open(self, inst: Instrument) -> Driver:
        if inst.name not in self._drivers:
            from .drivers import open_instrument
            from .virtual.lab import is_virtual

            if not is_virtual(inst):
                self._stack.enter_context(lease(inst.resource))
            self._drivers[inst.name] = open_instrument(inst, self.lab.resource(inst),
                                                       timeout_factor=self.timeout_factor)
        return self._drivers[inst.name]

    def get(self, kind: str, slot: int) -> Driver | None:
        inst = self.find(kind, slot)
        return None if inst is None else self.open(inst)

    def supply(self, slot: int) -> BoundSupply | None:
        inst = self.find("psu", slot)
        if inst is None:
            return None
        driver = self.open(inst)
        # open_instrument checked that the driver's kind is the inventory's: "psu"
        assert isinstance(driver, PowerSupply), f"{inst.name}: {driver!r} is not a supply"
        # the slot's DUT is fed by the first channel with a nominal voltage (else the first)
        nominal = [ch for ch, lim in sorted(inst.channels.items()) if lim.voltage is not None]
        return BoundSupply(driver, (nominal or sorted(inst.channels))[0])

    def virtual(self, kind: str, slot: int) -> VirtualInstrument | None:
        """The virtual instrument behind the slot's ``kind``, if it is one that runs here."""
        inst = self.find(kind, slot)
        return None if inst is None or self._lab is None else self._lab.instrument(inst.name)

    def slot_instruments(self, slot: int) -> list[Instrument]:
        return [i for kind in ("psu", "dmm", "counter") for i in
                self.bench.instruments_for(kind, slot)[:1]]

    def close(self) -> None:
        for driver in self._drivers.values():
            if isinstance(driver, PowerSupply):
                with contextlib.suppress(Exception):
                    driver.all_off()
            with contextlib.suppress(Exception):
                driver.close()
        self._drivers.clear()
        if self._lab is not None:
            self._lab.close()
        self._stack.close()
