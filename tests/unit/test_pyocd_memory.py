"""PyocdMemory splits accesses so that aligned words travel as 32-bit transfers (a fake
pyOCD target records the transfers)."""

import pytest

from harness.backends.pyocd_protocols import PyocdMemory, _spans


class RecordingTarget:
    def __init__(self) -> None:
        self.mem = bytearray(range(256)) * 4
        self.calls: list[tuple[str, int, int]] = []

    def read_memory_block8(self, addr, n):
        self.calls.append(("r8", addr, n))
        return list(self.mem[addr:addr + n])

    def read_memory_block32(self, addr, n):
        self.calls.append(("r32", addr, n))
        return [int.from_bytes(self.mem[addr + 4 * i:addr + 4 * i + 4], "little")
                for i in range(n)]

    def write_memory_block8(self, addr, data):
        self.calls.append(("w8", addr, len(data)))
        self.mem[addr:addr + len(data)] = bytes(data)

    def write_memory_block32(self, addr, words):
        self.calls.append(("w32", addr, len(words)))
        for i, w in enumerate(words):
            self.mem[addr + 4 * i:addr + 4 * i + 4] = w.to_bytes(4, "little")


@pytest.mark.parametrize(("address", "length", "spans"), [
    (0x100, 4, [(0x100, 4, True)]),
    (0x101, 2, [(0x101, 2, False)]),
    (0x103, 2, [(0x103, 2, False)]),
    (0x101, 11, [(0x101, 3, False), (0x104, 8, True)]),
    (0x102, 9, [(0x102, 2, False), (0x104, 4, True), (0x108, 3, False)]),
    (0x100, 0, []),
])
def test_spans(address, length, spans):
    assert _spans(address, length) == spans
    assert sum(n for _, n, _ in spans) == length


def test_words_as_32_bit_transfers_and_ends_as_bytes():
    backend = type("B", (), {})()
    backend.session = type("S", (), {})()
    backend.session.target = target = RecordingTarget()
    memory = PyocdMemory(backend)
    assert memory.read(0x11, 10) == bytes(target.mem[0x11:0x1B])
    assert target.calls == [("r8", 0x11, 3), ("r32", 0x14, 1), ("r8", 0x18, 3)]
    target.calls.clear()
    memory.write_u32(0x40, 0xA1B2C3D4)
    memory.write(0x43, b"xyz")
    assert target.calls == [("w32", 0x40, 1), ("w8", 0x43, 3)]
    assert bytes(target.mem[0x40:0x46]) == b"\xd4\xc3\xb2xyz"
