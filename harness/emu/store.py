"""Writes to device registers through a QEMU gdbstub.

QEMU's debugger path writes only RAM and ROM: an ``M`` packet to a device register answers
OK and changes nothing (DESIGN.md). The write is done by the core instead: a ``str r1,[r0]``
planted in scratch RAM, single-stepped (QEMU steps with interrupts masked), then the RAM and
the registers it used are put back. Only for addresses outside the chip's RAM and flash.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..errors import HarnessError
from .rsp import RspClient

# str / strh / strb r1, [r0] (Thumb)
_STORE = {4: b"\x01\x60", 2: b"\x01\x80", 1: b"\x01\x70"}
_STEP_TRIES = 8


@contextlib.contextmanager
def _borrowed(rsp: RspClient, scratch: int, code: bytes,
              registers: tuple[str, ...]) -> Iterator[dict[str, int]]:
    """The VM halted, ``code`` planted at ``scratch``; the RAM under it and ``registers`` put
    back afterwards, whatever happens. Yields the saved register values."""
    with rsp.paused():
        saved = {n: rsp.read_register(n) for n in registers}
        before = rsp.read_memory(scratch, len(code))
        try:
            rsp.write_memory(scratch, code)
            yield saved
        finally:
            rsp.write_memory(scratch, before)
            for n, v in saved.items():
                rsp.write_register(n, v)


def store(rsp: RspClient, scratch: int, address: int, value: int, size: int = 4,
          name: str = "gdbstub") -> None:
    """One ``size``-byte store of ``value`` at ``address`` by the core (the VM is halted for
    it and left as it was)."""
    with _borrowed(rsp, scratch, _STORE[size], ("r0", "r1", "pc", "xpsr")) as saved:
        rsp.write_register("r0", address)
        rsp.write_register("r1", value)
        rsp.write_register("pc", scratch)
        rsp.write_register("xpsr", saved["xpsr"] | 1 << 24)  # Thumb state
        # A core halted in WFI can report a step without executing anything (pc unmoved):
        # step again, the store has not happened yet.
        for _ in range(_STEP_TRIES):
            stop = rsp.step()
            pc = rsp.read_register("pc")
            if pc != scratch:
                break
        if pc != scratch + 2:
            raise HarnessError(f"{name}: store of 0x{value:x} to 0x{address:08x} did not "
                               f"complete: the step stopped at 0x{pc:08x} ({stop.reason}, "
                               f"xpsr 0x{rsp.read_register('xpsr'):08x})")


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


# The routine that runs a table of (address, value) word stores (Thumb; tests/unit/
# test_qemu_reset.py assembles the source below and compares):
#   loop: ldmia r0!,{r2,r3}; str r3,[r2]; cmp r0,r1; blo loop       @ r0: table, r1: its end
#   done: b done                                                    @ hardware breakpoint
_TABLE_ROUTINE = bytes.fromhex("0cc813608842fbd3fee7")
_TABLE_DONE, _TABLE_AT = 8, 12


def store_table(rsp: RspClient, scratch: int, writes: list[tuple[int, int]],
                name: str = "gdbstub", timeout: float = 2.0) -> None:
    """Many word stores in one run of the core instead of one stepped store each: for a
    chip just reset and halted (no interrupt enabled, as the run does not mask them). The
    scratch RAM and the registers used are put back."""
    if not writes:
        return
    table = b"".join(int(a).to_bytes(4, "little") + int(v).to_bytes(4, "little")
                     for a, v in writes)
    code = _TABLE_ROUTINE + bytes(_TABLE_AT - len(_TABLE_ROUTINE)) + table
    done = scratch + _TABLE_DONE
    with _borrowed(rsp, scratch, code, ("r0", "r1", "r2", "r3", "pc", "xpsr")) as saved:
        for reg, value in (("r0", scratch + _TABLE_AT), ("r1", scratch + len(code)),
                           ("pc", scratch), ("xpsr", saved["xpsr"] | 1 << 24)):
            rsp.write_register(reg, value)
        stop = rsp.run_to(done, timeout)
        pc = rsp.read_register("pc")
        if stop is None or pc != done:
            raise HarnessError(f"{name}: {len(writes)} register stores did not finish "
                               f"(stopped at 0x{pc:08x}, "
                               f"{'timed out' if stop is None else stop.reason})")
