"""Register access from SVD, over a memory model of the layer below (a dict of words)."""

from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.protocols import Memory
from harness.regs import Registers, load_svd

SVD = Path(__file__).parents[2] / "targets" / "svd" / "qsm_periph.svd"


class WordMemory(Memory):
    """Little-endian bytes with a write log; W1C behaviour for one address when asked."""

    def __init__(self, w1c: dict[int, int] | None = None):
        self.bytes: dict[int, int] = {}
        self.writes: list[tuple[int, bytes]] = []
        self.w1c = w1c or {}

    def read(self, address, length):
        return bytes(self.bytes.get(address + i, 0) for i in range(length))

    def write(self, address, data):
        self.writes.append((address, bytes(data)))
        if address in self.w1c:
            old = int.from_bytes(self.read(address, 4), "little")
            new = int.from_bytes(data, "little")
            mask = self.w1c[address]
            data = ((old & ~(new & mask) & mask) | (new & ~mask)).to_bytes(4, "little")
        for i, b in enumerate(data):
            self.bytes[address + i] = b


@pytest.fixture
def mem():
    return WordMemory()


@pytest.fixture
def regs(mem):
    return Registers.from_svd(SVD, mem)


def test_layout_from_svd():
    dev = load_svd(SVD.resolve())
    pwm = dev.peripheral("PWM")
    assert pwm.base == 0x40100000 and pwm.size == 0x1000
    assert pwm.registers["DUTY"].address == 0x40100008
    assert pwm.registers["PERIOD"].reset_value == 1000
    status = pwm.registers["STATUS"]
    assert status.one_to_clear_mask == 0b11
    assert status.read_only_mask == 0x300
    assert status.writable_mask == 0
    assert dev.peripheral("NEC").registers["CTRL"].writable_mask == 0b111
    assert dev.peripheral("NEC").registers["ERRINFO"].fields["CAUSE"].enums["BIT_SPACE"] == 4


def test_read_write_register(regs, mem):
    regs.PWM.DUTY.write(300)
    assert mem.writes == [(0x40100008, (300).to_bytes(4, "little"))]
    assert regs.PWM.DUTY.read() == 300


def test_field_write_is_read_modify_write(regs, mem):
    mem.write_u32(0x40101000, 0b100)            # NEC.CTRL.EXT set
    regs.NEC.CTRL.EN = 1
    assert mem.read_u32(0x40101000) == 0b101
    assert regs.NEC.CTRL.EN == 1 and regs.NEC.CTRL.EXT == 1 and regs.NEC.CTRL.POL == 0
    regs.NEC.CTRL.modify(EN=0, POL=1)
    assert regs.NEC.CTRL.fields() == {"EN": 0, "POL": 1, "EXT": 1}


def test_field_write_does_not_clear_other_w1c_bits():
    mem = WordMemory(w1c={0x4010100C: 0xF})
    regs = Registers.from_svd(SVD, mem)
    mem.bytes[0x4010100C] = 0b0111               # FRAME, REPEAT, ERROR pending
    regs.NEC.STATUS.REPEAT = 1                   # clear REPEAT only
    assert mem.writes[-1] == (0x4010100C, (0b0010).to_bytes(4, "little"))
    assert mem.read_u32(0x4010100C) == 0b0101


def test_bad_names_and_values(regs):
    with pytest.raises(AttributeError, match="no peripheral 'PMW'.*PWM, NEC"):
        _ = regs.PMW
    with pytest.raises(AttributeError, match="PWM has no register 'DUTTY'"):
        _ = regs.PWM.DUTTY
    with pytest.raises(AttributeError, match="PWM.CTRL has no field 'ENABLE'; fields: EN"):
        regs.PWM.CTRL.ENABLE = 1
    with pytest.raises(AttributeError, match="PWM.COUNT.COUNT is read-only"):
        regs.PWM.COUNT.COUNT = 1
    with pytest.raises(ValueError, match="PWM.DEADTIME.DT: 256 does not fit 8 bit"):
        regs.PWM.DEADTIME.DT = 256
    with pytest.raises(ValueError, match="does not fit 32 bits"):
        regs.PWM.DUTY.write(1 << 32)


def test_missing_and_invalid_svd(tmp_path, mem):
    with pytest.raises(ConfigError, match="nope.svd: SVD file not found"):
        Registers.from_svd(tmp_path / "nope.svd", mem)
    bad = tmp_path / "bad.svd"
    bad.write_text(SVD.read_text().replace("<addressOffset>0x08</addressOffset>",
                                           "<addressOffset>eight</addressOffset>", 1))
    with pytest.raises(ConfigError, match=r"bad.svd: not a valid CMSIS-SVD file.*addressOffset"):
        Registers.from_svd(bad, mem)
    broken = tmp_path / "broken.svd"
    broken.write_text("<device><name>x</name>")
    with pytest.raises(ConfigError, match="broken.svd: not a valid CMSIS-SVD file"):
        Registers.from_svd(broken, mem)


def test_registers_with_read_side_effects_are_not_observable(tmp_path):
    svd = tmp_path / "ra.svd"
    text = SVD.read_text()
    # STATUS of the PWM becomes clear-on-read: a debugger must not read it to compare chips
    at = text.index("<name>STATUS</name>")
    end = text.index("</register>", at)
    block = text[at:end].replace("<fields>", "<readAction>clear</readAction><fields>", 1)
    svd.write_text(text[:at] + block + text[end:])
    pwm = load_svd(svd).peripheral("PWM")
    assert pwm.registers["STATUS"].read_action == "clear"
    assert not pwm.registers["STATUS"].observable
    assert pwm.registers["CTRL"].observable
    assert not [r for r in load_svd(SVD).peripheral("PWM").registers.values() if r.read_action]
