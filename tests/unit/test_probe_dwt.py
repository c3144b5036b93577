"""The qemu: probe's DWT: its cycle counter as silicon has it, over a scripted cycle source.

The source stands in for QEMU's virtual clock (``harness.probes.cycles``, proven against a
real QEMU in tests/integration/pyocd/test_pyocd_chip_clock.py).
"""

from __future__ import annotations

import threading

import pytest

from harness.probes import debug_unit as du
from harness.probes import dwt
from harness.probes.coresight import ROM_TABLE


class Source:
    """Cycles since QEMU started, as the test sets them; counts its readings."""

    cycle_ns = 16

    def __init__(self, cycles: int = 1000) -> None:
        self.cycles = cycles
        self.reads = 0

    def now(self) -> int:
        self.reads += 1
        return self.cycles


class Core:
    lock = threading.RLock()


@pytest.fixture
def source():
    return Source()


@pytest.fixture
def unit(source):
    return du.DebugUnit(Core(), "cortex-m3", dwt.Dwt(source, "cortex-m3"))  # type: ignore[arg-type]


def _enable(unit) -> None:
    unit.write32(du.DEMCR, dwt.TRCENA)
    unit.write32(dwt.DWT_CTRL, dwt.CYCCNTENA)


def test_cyccnt_counts_the_sources_cycles_while_trcena_and_cyccntena(unit, source):
    assert unit.read32(dwt.DWT_CYCCNT) == 0  # reset: not counting
    unit.write32(dwt.DWT_CTRL, dwt.CYCCNTENA)
    source.cycles += 50
    assert unit.read32(dwt.DWT_CYCCNT) == 0  # CYCCNTENA alone: DEMCR.TRCENA gates the DWT
    unit.write32(du.DEMCR, dwt.TRCENA)
    source.cycles += 70
    assert unit.read32(dwt.DWT_CYCCNT) == 70
    unit.write32(du.DEMCR, 0)  # trace off: the count holds
    source.cycles += 1000
    assert unit.read32(dwt.DWT_CYCCNT) == 70
    unit.write32(du.DEMCR, dwt.TRCENA)
    source.cycles += 5
    assert unit.read32(dwt.DWT_CYCCNT) == 75
    unit.write32(dwt.DWT_CTRL, 0)  # CYCCNTENA off: holds as well
    source.cycles += 9
    assert unit.read32(dwt.DWT_CYCCNT) == 75


def test_cyccnt_is_writable_and_wraps_at_32_bits(unit, source):
    _enable(unit)
    unit.write32(dwt.DWT_CYCCNT, 0)
    source.cycles += 1234
    assert unit.read32(dwt.DWT_CYCCNT) == 1234
    unit.write32(dwt.DWT_CYCCNT, 0xFFFF_FFF0)
    source.cycles += 0x20
    assert unit.read32(dwt.DWT_CYCCNT) == 0x10  # wrapped


def test_a_change_that_neither_counted_nor_will_count_reads_no_clock(unit, source):
    unit.write32(du.DEMCR, dwt.TRCENA)  # CYCCNTENA still clear: nothing to count
    unit.write32(dwt.DWT_CYCCNT, 7)
    assert source.reads == 0  # a reading stops QEMU for ~10 ms: only when it matters
    assert unit.read32(dwt.DWT_CYCCNT) == 7


def test_dwt_ctrl_says_what_the_part_has(unit):
    ctrl = unit.read32(dwt.DWT_CTRL)
    assert not ctrl & dwt.NOCYCCNT and ctrl >> 28 == 0  # a counter, no comparators
    assert ctrl & (dwt.NOTRCPKT | dwt.NOEXTTRIG | dwt.NOPRFCNT) == (
        dwt.NOTRCPKT | dwt.NOEXTTRIG | dwt.NOPRFCNT)
    unit.write32(dwt.DWT_CTRL, 0xFFFF_FFFF)
    assert unit.read32(dwt.DWT_CTRL) & 0xFFFFFF == dwt.CTRL_WRITABLE  # only its own controls


def test_without_a_cycle_source_the_part_says_it_has_no_cycle_counter():
    unit = du.DebugUnit(Core(), "cortex-m3",  # type: ignore[arg-type]
                        dwt.Dwt(None, "cortex-m3", "QEMU runs without -icount"))
    _enable(unit)
    assert unit.read32(dwt.DWT_CTRL) & (dwt.NOCYCCNT | dwt.CYCCNTENA) == dwt.NOCYCCNT
    assert unit.read32(dwt.DWT_CYCCNT) == 0
    assert unit.dwt is not None and unit.dwt.why_not == "QEMU runs without -icount"
    assert unit.dwt.cycle_ns is None


def test_a_v6m_core_has_no_cycle_counter_and_no_nocyccnt_bit(source):
    """ARMv6-M's DWT_CTRL has only NUMCOMP: bit 25 is reserved (0), CYCCNT reads 0."""
    unit = du.DebugUnit(Core(), "cortex-m0", dwt.Dwt(source, "cortex-m0"))  # type: ignore[arg-type]
    _enable(unit)
    source.cycles += 100
    assert unit.read32(dwt.DWT_CTRL) == 0 and unit.read32(dwt.DWT_CYCCNT) == 0
    assert unit.read32(dwt.DWT + 0xFE0) == 0x0A  # part 0x00A: the v6-M DWT


def test_the_rom_table_lists_the_dwt_between_scs_and_fpb(unit):
    entries = []
    for off in range(0, 0x10, 4):
        entry = unit.read32(ROM_TABLE + off)
        if entry == 0:
            break
        entries.append((ROM_TABLE + (entry & 0xFFFFF000)) & 0xFFFFFFFF)
    assert entries == [du.SCS, dwt.DWT, du.FPB]
    # a v7-M DWT as pyOCD knows it: part 0x002, generic class, designed by Arm
    pidr = [unit.read32(dwt.DWT + off) for off in (0xFE0, 0xFE4, 0xFE8)]
    assert pidr[0] | (pidr[1] & 0xF) << 8 == 0x002
    assert unit.read32(dwt.DWT + 0xFF4) >> 4 == 0xE


def test_without_a_dwt_the_rom_table_is_as_before():
    unit = du.DebugUnit(Core(), "cortex-m3")  # type: ignore[arg-type]
    assert unit.read32(ROM_TABLE + 8) == 0 and unit.read32(dwt.DWT_CTRL) is None
