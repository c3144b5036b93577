"""pytest wiring for lab instruments: ``psu``, ``dmm``, ``counter`` fixtures bound to the DUT's
bench slot, and the DUT lifecycle hooks (power on before boot, couple virtual instruments to the
booted chip, power off on every exit path).

Only pytest is imported here; PyVISA and the drivers load when a test first needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .pool import InstrumentPool
    from .virtual.instrument import VirtualInstrument

_POOL = pytest.StashKey["InstrumentPool"]()
_COUPLED = pytest.StashKey[list["VirtualInstrument"]]()


def _pool(config: pytest.Config) -> InstrumentPool:
    pool = config.stash.get(_POOL, None)
    if pool is None:
        from ..plugin import settings
        from .pool import InstrumentPool

        run = settings(config)
        pool = config.stash[_POOL] = InstrumentPool(run.bench, run.timeout_factor)
        unit_serial = _unit_serial(config)
        if unit_serial is not None:  # seeds the virtual instruments' reading noise
            pool.lab.unit_serial = unit_serial
    return pool


def _unit_serial(config: pytest.Config) -> str | None:
    """The serial number of the unit under test (``--serial``), None outside a station run."""
    return config.getoption("serial", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    pool = config.stash.get(_POOL, None)
    if pool is not None:
        pool.close()


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def instrument_pool(request: pytest.FixtureRequest):
    """Every instrument of the bench inventory, opened on first use, closed at the end."""
    return _pool(request.config)


def _need(pool, kind: str, slot: int):
    if pool.find(kind, slot) is None:
        pytest.skip(f"bench {pool.bench.name!r} has no {kind} for slot {slot}")


@pytest.fixture
def psu(instrument_pool, slot):
    """The supply channel feeding this slot's DUT (a BoundSupply); output off afterwards."""
    _need(instrument_pool, "psu", slot)
    supply = instrument_pool.supply(slot)
    try:
        yield supply
    finally:
        supply.power_off()


@pytest.fixture
def dmm(instrument_pool, slot):
    """This slot's multimeter."""
    _need(instrument_pool, "dmm", slot)
    return instrument_pool.get("dmm", slot)


@pytest.fixture
def counter(instrument_pool, slot):
    """This slot's frequency counter (channel 1: the DUT's frequency output)."""
    _need(instrument_pool, "counter", slot)
    return instrument_pool.get("counter", slot)


# -- the DUT's life ------------------------------------------------------------------------
# pytest only looks at plugin attributes named pytest_*: the harness hooks are implemented
# under that prefix and bound to their spec by name.

def pytest_harness_power_on(target, slot: int, item: pytest.Item) -> None:
    pool = _pool(item.config)
    supply = pool.supply(slot)
    if supply is not None:
        supply.power_on()


def pytest_harness_dut_ready(dut, slot: int, item: pytest.Item) -> None:
    pool = _pool(item.config)
    for inst in pool.slot_instruments(slot):
        driver = pool.open(inst)
        item.user_properties.append(
            (f"instrument.{inst.kind}", f"{inst.name}: {driver.identity} at {driver.resource}"))
    if "memory" not in dut.capabilities:
        return
    from .virtual.coupling import DutSignals

    signals = DutSignals(dut, unit_serial=_unit_serial(item.config))  # the unit's spread
    coupled = []
    for kind in ("psu", "dmm", "counter"):
        virt = pool.virtual(kind, slot)
        if virt is not None:
            virt.couple(signals)
            coupled.append(virt)
    item.stash[_COUPLED] = coupled


def _decouple(item: pytest.Item) -> None:
    for virt in item.stash.get(_COUPLED, []):
        virt.decouple()
    item.stash[_COUPLED] = []


def pytest_harness_dut_done(dut, slot: int, item: pytest.Item) -> None:
    _decouple(item)


def pytest_harness_power_off(target, slot: int, item: pytest.Item) -> None:
    _decouple(item)
    supply = _pool(item.config).supply(slot)
    if supply is not None:
        supply.power_off()
