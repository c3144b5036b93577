"""Register reset values and access masks, read from the SVD, checked on the RTL."""

import pytest

from harness.backends.cocotb.client import BusError
from harness.errors import HarnessError
from harness.regcheck import check_access_masks, check_reset_values

BLOCKS = [("qsm_pwm", "PWM"), ("qsm_nec", "NEC")]


@pytest.mark.parametrize(("block", "peripheral"), BLOCKS)
def test_reset_values(rtl_factory, block, peripheral):
    check_reset_values(rtl_factory(block).regs, peripheral)


@pytest.mark.parametrize(("block", "peripheral"), BLOCKS)
def test_access_masks(rtl_factory, block, peripheral):
    check_access_masks(rtl_factory(block).regs, peripheral)


def test_byte_writes_use_strobes(pwm):
    pwm.regs.PWM.PERIOD.write(0x1234)
    pwm.memory.write_u8(pwm.regs.PWM.PERIOD.address + 1, 0xAB)
    assert pwm.regs.PWM.PERIOD.read() == 0xAB34
    assert pwm.memory.read(pwm.regs.PWM.PERIOD.address, 2) == bytes((0x34, 0xAB))


def test_field_access(nec):
    ctrl = nec.regs.NEC.CTRL
    ctrl.EXT = 1
    ctrl.EN = 1
    assert ctrl.read() == 0b101
    assert (ctrl.EN, ctrl.POL, ctrl.EXT) == (1, 0, 1)


def test_unmapped_offset_is_a_bus_error(pwm):
    with pytest.raises(BusError, match="PSLVERR.*0x40"):
        pwm.memory.read_u32(pwm.base + 0x40)


def test_address_outside_the_block_is_refused(pwm):
    with pytest.raises(HarnessError, match=r"0x40101000\+4 is outside the block"):
        pwm.memory.read_u32(0x40101000)


def test_time_moves_only_when_asked(pwm):
    start = pwm.cycle
    for _ in range(5):
        pwm.pins["pwm_h"]
    assert pwm.cycle == start
    assert pwm.wait_cycles(100) == start + 100
    pwm.regs.PWM.ID.read()                 # one APB transfer: setup + access phase
    assert pwm.cycle == start + 102


def test_two_blocks_in_one_test(rtl_factory):
    a, b = rtl_factory("qsm_pwm"), rtl_factory("qsm_pwm")
    a.regs.PWM.DUTY.write(7)
    assert b.regs.PWM.DUTY.read() == 0
    assert a.regs.PWM.DUTY.read() == 7
