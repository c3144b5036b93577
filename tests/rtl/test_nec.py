"""qsm_nec: valid, repeat, malformed and out-of-tolerance pulse trains driven on the input."""

import pytest

from .nec_signal import MARK, SPACE, bits_units, frame_units, repeat_units, to_cycles

CLKDIV = 1                      # 2 cycles per tick: short simulations
UNIT = 16 * (CLKDIV + 1)        # cycles per NEC unit T
CAUSE = {"LEAD_MARK": 1, "LEAD_SPACE": 2, "BIT_MARK": 3, "BIT_SPACE": 4, "CHECK": 5}


@pytest.fixture
def rx(nec):
    r = nec.regs.NEC
    r.CLKDIV.write(CLKDIV)
    r.IE.write(0b1111)
    r.CTRL.EN = 1
    nec.wait_cycles(4 * UNIT)
    return nec


def send(rx, units, cycles_per_unit=UNIT):
    rx.pins.drive("ir_in", to_cycles(units, cycles_per_unit))


def status(rx):
    return rx.regs.NEC.STATUS.fields()


@pytest.mark.parametrize(("address", "command"), [(0x00, 0x45), (0x04, 0x08), (0xFF, 0x00)])
def test_valid_frame(rx, address, command):
    assert rx.pins["irq"] == 0
    send(rx, frame_units(address, command))
    st = status(rx)
    assert (st["FRAME"], st["ERROR"], st["REPEAT"], st["BUSY"]) == (1, 0, 0, 0)
    assert rx.regs.NEC.CODE.fields() == {"ADDR": address, "CMD": command}
    assert rx.regs.NEC.DATA.read() == (address | (~address & 0xFF) << 8 | command << 16
                                       | (~command & 0xFF) << 24)
    assert rx.pins["irq"] == 1
    rx.regs.NEC.STATUS.FRAME = 1
    assert rx.pins["irq"] == 0 and rx.regs.NEC.STATUS.FRAME == 0


def test_pulse_widths_are_measured(rx):
    send(rx, [(MARK, 3), (SPACE, 40)])
    meas = rx.regs.NEC.MEAS.fields()
    assert meas == {"WIDTH": 3 * 16, "MARK": 1}


def test_extended_address(rx):
    rx.regs.NEC.CTRL.EXT = 1
    send(rx, frame_units(0x1234, 0x5A, extended=True))
    assert status(rx)["FRAME"] == 1
    assert rx.regs.NEC.CODE.fields() == {"ADDR": 0x1234, "CMD": 0x5A}


def test_repeat_code(rx):
    send(rx, frame_units(0x04, 0x10))
    rx.regs.NEC.STATUS.FRAME = 1
    send(rx, repeat_units())
    st = status(rx)
    assert (st["REPEAT"], st["FRAME"], st["ERROR"]) == (1, 0, 0)
    assert rx.regs.NEC.CODE.CMD == 0x10          # the last frame's code stays


def test_overrun(rx):
    send(rx, frame_units(0x01, 0x02))
    send(rx, frame_units(0x01, 0x03))
    st = status(rx)
    assert (st["FRAME"], st["OVERRUN"]) == (1, 1)
    assert rx.regs.NEC.CODE.CMD == 0x03


def error_of(rx):
    st = status(rx)
    info = rx.regs.NEC.ERRINFO.fields()
    return st["ERROR"], st["FRAME"], info["CAUSE"], info["BITS"]


def test_command_check_mismatch(rx):
    payload = 0x00 | 0xFF << 8 | 0x45 << 16 | 0x00 << 24   # ~command wrong
    send(rx, bits_units(payload, 32))
    assert error_of(rx) == (1, 0, CAUSE["CHECK"], 32)


def test_truncated_frame(rx):
    # the line goes quiet after bit 9's mark: its space never ends
    send(rx, bits_units(0xFFFF_FFFF, 10)[:-2] + [(SPACE, 30)])
    assert error_of(rx) == (1, 0, CAUSE["BIT_SPACE"], 9)
    assert status(rx)["BUSY"] == 0
    send(rx, frame_units(0x07, 0x09))                          # and the next frame decodes
    assert status(rx)["FRAME"] == 1


def test_stretched_bit_mark(rx):
    units = frame_units(0x01, 0x02)
    units[2 + 2 * 5] = (MARK, 2)                               # bit 5's mark twice as long
    send(rx, units)
    assert error_of(rx) == (1, 0, CAUSE["BIT_MARK"], 5)


@pytest.mark.parametrize(("index", "scale", "cause"), [
    (0, 0.70, "LEAD_MARK"), (0, 1.30, "LEAD_MARK"), (1, 0.70, "LEAD_SPACE"),
    (1, 1.30, "LEAD_SPACE"), (3, 1.35, "BIT_SPACE"),
])
def test_out_of_tolerance(rx, index, scale, cause):
    units = frame_units(0x00, 0xFF)                            # bit 0 of 0x00 is a 1T space
    level, n = units[index]
    units[index] = (level, n * scale)
    send(rx, units)
    assert error_of(rx)[:3] == (1, 0, CAUSE[cause])


@pytest.mark.parametrize("scale", [0.8, 1.2])
def test_within_tolerance(rx, scale):
    send(rx, frame_units(0x10, 0x20), cycles_per_unit=UNIT * scale)
    assert status(rx)["FRAME"] == 1 and status(rx)["ERROR"] == 0
    assert rx.regs.NEC.CODE.fields() == {"ADDR": 0x10, "CMD": 0x20}


def test_tighter_tolerance_rejects(rx):
    rx.regs.NEC.TOL.SHIFT = 3                                  # +/- 12.5 %
    send(rx, frame_units(0x10, 0x20), cycles_per_unit=UNIT * 1.2)
    assert status(rx)["ERROR"] == 1 and status(rx)["FRAME"] == 0


def test_real_timing_at_reset_divider(nec):
    """With the reset CLKDIV at the block's 1 MHz clock: NEC's real 562.5 us unit."""
    nec.regs.NEC.CTRL.EN = 1
    nec.wait_cycles(1000)
    send(nec, frame_units(0x04, 0x2C), cycles_per_unit=562.5)
    assert nec.regs.NEC.STATUS.FRAME == 1
    assert nec.regs.NEC.CODE.fields() == {"ADDR": 0x04, "CMD": 0x2C}
