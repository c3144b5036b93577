"""RTL block tests: real simulator (Icarus by default, ``--rtl-simulator verilator``), real
sockets, the registers from the SVD. Fixtures come from ``harness.backends.cocotb``."""

import pytest


@pytest.fixture
def pwm(rtl_factory):
    return rtl_factory("qsm_pwm")


@pytest.fixture
def nec(rtl_factory):
    return rtl_factory("qsm_nec")
