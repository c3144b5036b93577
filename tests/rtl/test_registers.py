"""Register reset values and access masks, read from the SVD, checked on the RTL."""

import pytest

from harness.backends.cocotb import wire
from harness.backends.cocotb.client import BusError
from harness.errors import HarnessError, ProtocolError
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


def test_posted_writes_and_drives_take_their_cycles_in_order(pwm):
    start = pwm.sync()
    pwm.regs.PWM.PERIOD.write(40)                # posted: one APB transfer, 2 cycles
    pwm.pins.drive("fault", [(0, 5), (0, 3)])    # posted: 8 cycles
    pwm.regs.PWM.DUTY.write(9)
    assert pwm.client.pending > 0                # nothing sent yet: simulated time stood still
    assert pwm.cycle == start + 12
    assert (pwm.regs.PWM.PERIOD.read(), pwm.regs.PWM.DUTY.read()) == (40, 9)


def test_posted_write_error_comes_at_the_next_call(pwm):
    pwm.regs.PWM.DUTY.write(1)
    start = pwm.sync()
    pwm.memory.write_u32(pwm.base + 0x40, 5)     # unmapped: PSLVERR, reported later
    pwm.regs.PWM.DUTY.write(7)                   # issued after the failure: not executed
    pwm.pins.drive("fault", [(0, 10)])           # nor this
    with pytest.raises(BusError, match=r"PSLVERR\) at block offset 0x40 in a posted WRITE "
                                       r"\(raised at the next READ; the 4 request"):
        pwm.regs.PWM.ID.read()
    assert pwm.cycle == start + 2                # only the failed transfer took time
    assert pwm.regs.PWM.DUTY.read() == 1         # and the bridge serves again


def test_posted_request_refused_by_the_bridge(pwm):
    pwm.client.post(wire.PIN_SET, b=1, pin=99)
    with pytest.raises(ProtocolError, match="refused PIN_SET: no pin #99 in a posted PIN_SET"):
        pwm.sync()
    assert pwm.regs.PWM.ID.read() == pwm.regs.PWM.ID.read()


def test_read_many_is_pipelined_reads(pwm):
    r = pwm.regs.PWM
    r.PERIOD.write(0x55)
    r.DUTY.write(0x22)
    addresses = [r.PERIOD.address, r.DUTY.address, r.ID.address] * 100   # > one pipeline batch
    start = pwm.cycle
    values = pwm.memory.read_many(addresses)
    assert pwm.cycle == start + 2 * len(addresses)
    assert values == [pwm.memory.read_u32(a) for a in addresses[:3]] * 100
    assert values[:2] == [0x55, 0x22]
    assert pwm.memory.read_many([]) == []


def test_read_many_stops_at_a_bus_error(pwm):
    r = pwm.regs.PWM
    start = pwm.cycle
    with pytest.raises(BusError, match=r"PSLVERR\) at block offset 0x40$"):
        pwm.memory.read_many([r.ID.address, pwm.base + 0x40, r.DUTY.address, r.PERIOD.address])
    assert pwm.cycle == start + 4                # the reads after the failed one: skipped
    assert pwm.memory.read_many([r.DUTY.address]) == [0]


def test_read_many_refuses_unaligned_addresses(pwm):
    with pytest.raises(HarnessError, match="not word aligned"):
        pwm.memory.read_many([pwm.base + 2])
