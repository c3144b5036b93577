"""Proof that a reused chip is a fresh chip: compare what a debugger can see of both.

A pool (``--dut-reuse reset``) hands a chip back at power-on state after cleaning it. To prove
that for a board of your own, take a snapshot of a chip at power-on from a brand-new process
or a freshly powered board, let a test mess a chip up, take a snapshot of the chip the pool
hands out next (``no_boot``: halted at the reset vector) and compare::

    from harness.testing.pool_proof import differences, snapshot

    fresh = snapshot(fresh_dut)            # e.g. world.open(..., boot=False)
    ...                                    # a test leaves the chip in a mess
    problems = differences(snapshot(reused_dut), fresh)
    assert not problems, "\\n".join(problems)

A snapshot holds the core registers, every RAM/flash region of the target, the registers its
board profile lists as observable (every peripheral block QEMU models for that machine), and
every device register the target's SVD file describes that can be read without side effects. It is
read through the Dut's ``memory`` and ``execution`` protocols only, so it works in any world
that offers them; the core is held halted while it is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..protocols import CORE_REGISTERS

if TYPE_CHECKING:
    from ..dut import Dut


@dataclass(frozen=True)
class Snapshot:
    """What a debugger sees of a halted chip."""

    registers: dict[str, int]  # core register name → value
    memory: dict[str, tuple[int, bytes]]  # memory region name → (start address, contents)
    devices: dict[str, int]  # "PERIPHERAL.REGISTER (0xADDRESS)" → value


def snapshot(dut: Dut) -> Snapshot:
    """The core registers, every RAM/flash region and every side-effect-free SVD register of
    ``dut``'s chip, read while the core is held halted (a running one is resumed after)."""
    target = dut.target
    memory = dut.memory
    with dut.execution.paused():
        registers = dut.execution.registers(CORE_REGISTERS)
        regions = {r.name: (r.start, memory.read(r.start, r.size))
                   for r in target.memory if r.kind in ("flash", "rom", "ram")}
        devices = {}
        if target.board is not None:  # the board's blocks, whatever the target's SVD says
            from ..config import board_profile

            for block in board_profile(target.board).observe:
                for name, offset in block.registers.items():
                    address = block.base + offset
                    devices[f"{block.block}.{name} (0x{address:08x})"] = memory.read_u32(address)
        if target.svd is not None:
            from ..regs import load_svd  # cmsis-svd loads only when registers are compared

            for periph in load_svd(target.svd).peripherals.values():
                for reg in periph.registers.values():
                    if reg.observable:
                        devices[f"{reg.path} (0x{reg.address:08x})"] = int.from_bytes(
                            memory.read(reg.address, reg.size // 8), "little")
    return Snapshot(registers, regions, devices)


def differences(got: Snapshot, fresh: Snapshot) -> list[str]:
    """Human-readable differences of ``got`` from ``fresh`` (empty when identical): each
    register that differs, and per memory region how many bytes differ and the first."""
    out = []
    for name, value in fresh.registers.items():
        mine = got.registers.get(name)
        if mine != value:
            out.append(f"register {name}: {_hex(mine)}, fresh 0x{value:08x}")
    for name, (start, data) in fresh.memory.items():
        if name not in got.memory:
            out.append(f"memory {name}: not in the snapshot")
            continue
        mine_data = got.memory[name][1]
        if mine_data != data:
            diff = [i for i in range(min(len(data), len(mine_data))) if mine_data[i] != data[i]]
            if not diff:
                out.append(f"memory {name}: {len(mine_data)} bytes, fresh {len(data)}")
                continue
            first = diff[0]
            out.append(f"memory {name}: {len(diff)} bytes differ, first at "
                       f"0x{start + first:08x} (0x{mine_data[first]:02x}, fresh "
                       f"0x{data[first]:02x})")
    for reg, value in fresh.devices.items():
        mine = got.devices.get(reg)
        if mine != value:
            out.append(f"device register {reg}: {_hex(mine)}, fresh 0x{value:08x}")
    return out


def _hex(value: int | None) -> str:
    return "missing" if value is None else f"0x{value:08x}"
