"""Integration tests: real QEMU, real sockets, the washer firmware.

They use the washer target explicitly: what they prove is the qemu world, not a chip.
"""

import pytest

# test modules carry their own pytestmark (pytest does not apply one from a conftest)

SCRATCH = 0x20008000  # middle of the 64 KiB SRAM, above .bss and below the stack


@pytest.fixture
def scratch(dut):
    img = dut.image
    top = max(s.address + s.size for s in img.symbols.values()
              if s.kind == "object" and s.address >= 0x20000000)
    assert top < SCRATCH, "firmware RAM grew into the scratch area; move SCRATCH"
    return SCRATCH
