"""``dut.regs``: the target's SVD over the DUT's memory (a recording memory stands in)."""

from pathlib import Path

import pytest

from harness.config import load_target
from harness.dut import Dut
from harness.errors import HarnessError
from harness.protocols import Memory

ROOT = Path(__file__).resolve().parents[2]


class RecordingMemory(Memory):
    def __init__(self) -> None:
        self.words: dict[int, int] = {}
        self.reads: list[int] = []

    def read(self, address: int, length: int) -> bytes:
        self.reads.append(address)
        return self.words.get(address, 0).to_bytes(4, "little")[:length]

    def write(self, address: int, data: bytes) -> None:
        self.words[address] = int.from_bytes(data, "little")


def dut_for(target, memory=None) -> Dut:
    return Dut(target=target, image=object(), world="qemu", backend=object(), memory=memory)


def test_regs_reach_the_svd_addresses():
    memory = RecordingMemory()
    dut = dut_for(load_target(ROOT / "targets" / "qsm-washer.yaml"), memory)
    dut.regs.TIMER1.TAILR.write(0x1234)
    dut.regs.TIMER1.CTL.TAEN = 1
    assert memory.words == {0x40031028: 0x1234, 0x4003100C: 1}
    assert dut.regs is dut.regs  # parsed once per DUT


def test_regs_without_an_svd_names_the_target_file():
    target = load_target(ROOT / "targets" / "qsm-tv.yaml")
    assert target.svd is None
    with pytest.raises(HarnessError, match=r"qsm-tv\.yaml: no 'svd' field"):
        dut_for(target, RecordingMemory()).regs  # noqa: B018


def test_regs_need_memory():
    with pytest.raises(HarnessError, match="no 'memory'"):
        dut_for(load_target(ROOT / "targets" / "qsm-washer.yaml")).regs  # noqa: B018
