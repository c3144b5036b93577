"""Writes to device registers through a QEMU gdbstub.

QEMU's debugger path writes only RAM and ROM: an ``M`` packet to a device register answers
OK and changes nothing (DESIGN.md). The write is done by the core instead: a ``str r1,[r0]``
planted in scratch RAM, single-stepped (QEMU steps with interrupts masked), then the RAM and
the registers it used are put back. Only for addresses outside the chip's RAM and flash.
"""

from __future__ import annotations

from ..errors import HarnessError
from .rsp import RspClient

# str / strh / strb r1, [r0] (Thumb)
_STORE = {4: b"\x01\x60", 2: b"\x01\x80", 1: b"\x01\x70"}


def store(rsp: RspClient, scratch: int, address: int, value: int, size: int = 4,
          name: str = "gdbstub") -> None:
    """One ``size``-byte store of ``value`` at ``address`` by the core (the VM is halted for
    it and left as it was)."""
    with rsp.paused():
        saved = {n: rsp.read_register(n) for n in ("r0", "r1", "pc", "xpsr")}
        code = rsp.read_memory(scratch, 2)
        try:
            rsp.write_memory(scratch, _STORE[size])
            rsp.write_register("r0", address)
            rsp.write_register("r1", value)
            rsp.write_register("pc", scratch)
            rsp.write_register("xpsr", saved["xpsr"] | 1 << 24)  # Thumb state
            rsp.step()
            if rsp.read_register("pc") != scratch + 2:
                raise HarnessError(f"{name}: store of 0x{value:x} to 0x{address:08x} "
                                   f"faulted (the address is not writable)")
        finally:
            rsp.write_memory(scratch, code)
            for n, v in saved.items():
                rsp.write_register(n, v)


def device_write(rsp: RspClient, scratch: int, address: int, data: bytes, size: int = 4,
                 name: str = "gdbstub") -> None:
    """``data`` written to device registers in ``size``-byte stores (bytes when it does not
    divide into aligned ``size``-byte units)."""
    with rsp.paused():
        if size not in _STORE or len(data) % size or address % size:
            size = 1
        for off in range(0, len(data), size):
            store(rsp, scratch, address + off, int.from_bytes(data[off:off + size], "little"),
                  size, name)
