"""World-agnostic register checks against the SVD: they take a ``Registers`` view
(harness.regs) and a peripheral name, and use nothing but its memory. The same functions run
against an RTL block (``rtl.regs``) and against a chip through its debug port (``dut.regs``)
wherever the peripheral is mapped. A register that differs from its description fails the
test (AssertionError) with every difference listed."""

from __future__ import annotations


def check_reset_values(regs, peripheral: str) -> None:
    bad = []
    for reg in regs[peripheral]:
        info = reg.info
        got = reg.read() & info.reset_mask
        want = info.reset_value & info.reset_mask
        if got != want:
            bad.append(f"{info.path}: {got:#010x}, SVD reset value {want:#010x}")
    if bad:
        raise AssertionError("registers off their reset values:\n" + "\n".join(bad))


def check_access_masks(regs, peripheral: str) -> None:
    """Read-write bits keep what is written, read-only bits ignore writes, undescribed bits
    read zero. Every register is put back to its reset value afterwards."""
    bad = []
    for reg in regs[peripheral]:
        info = reg.info
        before = reg.read()
        if before & ~info.implemented_mask:
            bad.append(f"{info.path}: undescribed bits set: {before:#010x}")
        if info.access == "read-only" or not info.writable_mask:
            if info.access == "read-only":
                reg.write(~before & ((1 << info.size) - 1))
                if reg.read() != before:
                    bad.append(f"{info.path}: read-only register changed by a write")
            continue
        for pattern in (info.writable_mask, 0, 0xA5A5A5A5 & info.writable_mask):
            # write-1-to-clear bits are written 0 so no pending event is cleared
            reg.write(pattern | (before & info.read_only_mask & ~info.one_to_clear_mask))
            got = reg.read()
            if got & info.writable_mask != pattern:
                bad.append(f"{info.path}: wrote {pattern:#x} to the writable bits "
                           f"{info.writable_mask:#x}, read back {got:#x}")
            if got & ~info.implemented_mask:
                bad.append(f"{info.path}: undescribed bits read {got:#010x}")
        reg.write(info.reset_value & info.writable_mask)
    if bad:
        raise AssertionError("access masks differ from the SVD:\n" + "\n".join(bad))
