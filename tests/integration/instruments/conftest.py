"""Integration tests for lab instruments: real PyVISA + pyvisa-py over loopback TCP, and over
a serial port (a pty, through pyserial), to the virtual instruments (no DUT unless a test asks
for one)."""

import pytest

from harness.bench import Instrument, SerialSettings, SupplyChannel
from harness.instruments.drivers import open_instrument
from harness.instruments.virtual.lab import VirtualLab

LIMITS = {2: SupplyChannel(max_voltage=13.2, max_current=1.2, voltage=12.0, current_limit=1.0)}
INVENTORY = {
    "keysight": Instrument(name="psu-k", kind="psu", resource="virtual:keysight-e36312a",
                           channels=LIMITS),
    "rigol": Instrument(name="psu-r", kind="psu", resource="virtual:rigol-dp832",
                        channels=LIMITS),
    "rigol-asrl": Instrument(name="psu-rs", kind="psu", resource="virtual-asrl:rigol-dp832",
                             channels=LIMITS, serial=SerialSettings(baud_rate=9600)),
    "dmm": Instrument(name="dmm", kind="dmm", resource="virtual:keysight-34461a"),
    "counter": Instrument(name="counter", kind="counter", resource="virtual:keysight-53220a",
                          timeout_ms=500),
}


@pytest.fixture
def lab():
    lab = VirtualLab()
    yield lab
    lab.close()


@pytest.fixture
def open_(lab):
    opened = []

    def open_(key: str):
        inst = INVENTORY[key]
        driver = open_instrument(inst, lab.resource(inst))
        opened.append(driver)
        return driver

    yield open_
    for d in opened:
        d.close()
