"""The README's example world: a chip that is 64 KiB of host memory and nothing else."""

from harness.dut import Dut
from harness.protocols import Memory
from harness.worlds import World


class RamMemory(Memory):
    def __init__(self) -> None:
        self.ram = bytearray(0x10000)

    def read(self, address: int, length: int) -> bytes:
        return bytes(self.ram[address:address + length])

    def write(self, address: int, data: bytes) -> None:
        self.ram[address:address + len(data)] = data


class RamBackend:
    world = "ram"
    alive = True

    def __init__(self) -> None:
        self.memory = RamMemory()

    def diagnosis(self) -> str:
        return "a bytearray"

    def power_on(self) -> None:
        pass

    def close(self) -> None:
        pass


class RamWorld(World):
    name, description, capabilities = "ram", "64 KiB of host RAM", frozenset({"memory"})

    def open(self, target, image, *, name, log_dir, settings, boot=True):
        return Dut.from_backend(RamBackend(), target=target, image=image, name=name, boot=False)
