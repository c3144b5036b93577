"""The board's CMSDK timers by name through the debug port (``dut.regs``, from the SVD named
in targets/qsm-auto.yaml), checked with the same functions that check QSM's RTL blocks in
the cocotb world. The firmware leaves both timers to the tests."""

import time

import pytest

from harness.regcheck import check_access_masks, check_reset_values

pytestmark = [pytest.mark.targets("qsm-auto"), pytest.mark.requires("memory")]

TIMERS = ["TIMER0", "TIMER1"]
TIMER1_IRQ = 9
NVIC_ISPR0, NVIC_ICPR0 = 0xE000E200, 0xE000E280


@pytest.mark.parametrize("timer", TIMERS)
def test_timer_reset_values_match_the_svd(dut, timer):
    check_reset_values(dut.regs, timer)


@pytest.mark.parametrize("timer", TIMERS)
def test_timer_access_masks_match_the_svd(dut, timer):
    check_access_masks(dut.regs, timer)


def test_timer_counts_down_wraps_and_raises_its_interrupt(dut):
    t = dut.regs.TIMER1
    t.RELOAD.write(250_000)            # 10 ms at the board's 25 MHz
    t.VALUE.write(250_000)
    # the flag rises only with the interrupt enabled; the firmware leaves the timer's NVIC
    # line disabled, so the interrupt waits there as pending and no handler runs
    t.CTRL.modify(EN=1, IRQ_EN=1)
    try:
        first = t.VALUE.read()
        deadline = time.monotonic() + 5.0 * dut.timeout_factor
        while not t.INTSTATUS.INT:
            assert time.monotonic() < deadline, "TIMER1 never reached zero"
            time.sleep(0.005)
        assert 0 < first <= 250_000 and t.VALUE.read() <= 250_000
        assert dut.memory.read_u32(NVIC_ISPR0) & 1 << TIMER1_IRQ
    finally:
        t.CTRL.modify(EN=0, IRQ_EN=0)
    assert t.CTRL.read() == 0
    t.INTSTATUS.INT = 1                # write one to clear
    assert t.INTSTATUS.read() == 0
    dut.memory.write_u32(NVIC_ICPR0, 1 << TIMER1_IRQ)
    assert not dut.memory.read_u32(NVIC_ISPR0) & 1 << TIMER1_IRQ
    held = t.VALUE.read()
    time.sleep(0.02)
    assert t.VALUE.read() == held      # stopped: the count holds


def test_a_register_name_the_svd_lacks_names_the_file(dut):
    with pytest.raises(AttributeError, match=r"mps2_an385\.svd: no peripheral 'UART9'"):
        dut.regs.UART9  # noqa: B018
