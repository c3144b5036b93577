"""A unit's suite for ``test_fault_records``: a measurement, then another taken only once the
record store is gone (the fault test writes the file named by ``HARNESS_OUTAGE_FLAG`` after its
server stopped), so the unit's next write meets the outage however fast the chip and host are.

Not a test module of its own (no ``test_`` prefix): a station runs it by its path.
"""

import os
import time
from pathlib import Path

import pytest

from tests.acceptance.washer.test_measurements import _chip_boot_to_ready

pytestmark = [pytest.mark.targets("qsm-washer"), pytest.mark.requires("clock", "symbols")]

WAIT_S = 60.0  # for the fault test to stop its server


def test_before_the_outage(dut, measure):
    measure("boot_to_ready", _chip_boot_to_ready(dut) / 1e6, "ms")


def test_after_the_outage(dut, measure):
    flag = Path(os.environ["HARNESS_OUTAGE_FLAG"])
    deadline = time.monotonic() + WAIT_S
    while not flag.exists():
        assert time.monotonic() < deadline, f"{flag} was not written within {WAIT_S:g} s"
        time.sleep(0.05)
    measure("boot_to_ready", _chip_boot_to_ready(dut) / 1e6, "ms")
