"""The inner test module of test_pool.py (copied into a pytester dir and run there with
``--dut-reuse reset``; not collected here).

Each mess test leaves the chip in a state a careless test could leave; the check after it takes
the chip the pool hands out next — halted at power-on — and compares it with a chip from a
brand-new QEMU process (harness.testing.pool_proof), then boots both and compares what they
report. ``MESS_ORDER=reverse`` runs the messes in reverse order.
"""

import os
import re

import pytest

from harness.backends.qemu import open_dut
from harness.errors import DutFault
from harness.testing.pool_proof import differences, snapshot

SCRATCH = 0x20004000


def mess_ram(dut):
    dut.memory.write(SCRATCH, os.urandom(8192))
    dut.memory.write(0x2000FF00, b"\xa5" * 256)  # where the clean-up routine runs


def mess_flash(dut):
    dut.memory.write(0x100, b"\xde\xad\xbe\xef" * 8)       # inside the image
    dut.memory.write(0x30000, b"\x55" * 100)              # erased flash beyond it


def mess_registers(dut):
    dut.execution.halt()
    for i in range(13):
        dut.execution.write_register(f"r{i}", 0xBAD00000 + i)
    dut.execution.write_register("lr", 0xFFFFFFF1)       # and leave the core halted


def mess_breakpoint(dut):
    fn = dut.image.symbol("cmd_status").address & ~1
    dut.execution.set_breakpoint(fn)
    dut.console.sendline("status")
    assert dut.execution.wait_halt(2).pc == fn            # halted at a breakpoint, left so


def mess_hardfault(dut):
    with pytest.raises(DutFault):
        dut.command("crash")                              # locked in the fault handler


def mess_uart(dut):
    dut.console.write(b"sta")                             # mid-line in the firmware's buffer
    dut.execution.halt()
    dut.console.write(b"x" * 40)                          # queued while halted: FIFO + socket


def mess_stimulus(dut):
    dut.symbols.update("stimulus", door_closed=0, imbalance=50, plant_enabled=0,
                       water_level=140, time_scale=1)


def mess_program(dut):
    dut.command("start cotton")                           # left running mid-program


def mess_timers(dut):
    gptm1 = 0x40031000                                    # a timer the firmware leaves alone
    for off, value in ((0x00, 4), (0x04, 2), (0x28, 0x1234), (0x30, 0x100), (0x38, 7),
                       (0x18, 1), (0x0C, 1)):             # 16-bit periodic, IRQ on, running
        dut.memory.write_u32(gptm1 + off, value)
    dut.memory.write_u32(0x40030038, 3)                   # timer 0's prescaler (unused)


def mess_peripherals(dut):
    """Blocks the washer's firmware never touches, programmed by a test: QEMU's reset leaves
    them so; the board profile restores them and its observed registers prove it."""
    for address, value in ((0x40038000, 0xF),        # ADC: all four sequencers active
                           (0x40038014, 0x5),        # ADC: trigger mux
                           (0x40008000, 0xC7),       # SSI0: CR0 frame format
                           (0x40008004, 0x2),        # SSI0: CR1 enabled
                           (0x40020000, 0x55),       # I2C0: slave address
                           (0x40020020, 0x10)):      # I2C0: master enabled
        dut.memory.write_u32(address, value)


MESSES = [mess_ram, mess_flash, mess_registers, mess_breakpoint, mess_hardfault, mess_uart,
          mess_stimulus, mess_program, mess_timers, mess_peripherals]
if os.environ.get("MESS_ORDER") == "reverse":
    MESSES.reverse()


_REFERENCE = {}


@pytest.fixture
def reference(target, harness_manager):
    """A chip from a brand-new process: its power-on snapshot and what it reports booted."""
    if target.name not in _REFERENCE:
        fresh = open_dut(target, harness_manager.image(target), name="reference", boot=False)
        try:
            snap = snapshot(fresh)
            fresh.boot()
            _REFERENCE[target.name] = snap, booted_view(fresh)
        finally:
            fresh.close()
    return _REFERENCE[target.name]


def booted_view(dut):
    status = re.sub(r" t=\d+", "", dut.command("status"))
    return status, dut.command("faults"), dut.symbols["stimulus"], dut.symbols["outputs"]


def check(dut, reference):
    fresh_snap, fresh_view = reference
    problems = differences(snapshot(dut), fresh_snap)
    assert not problems, "reused chip differs from a fresh one:\n" + "\n".join(problems)
    dut.boot()
    assert booted_view(dut) == fresh_view
    print(f"CHECK pid={dut.backend.pid}")


def make(i, mess):
    def test_mess(dut):
        print(f"MESS {mess.__name__} pid={dut.backend.pid}")
        mess(dut)

    @pytest.mark.no_boot
    def test_check(dut, reference):
        check(dut, reference)

    globals()[f"test_{i:02d}a_{mess.__name__}"] = test_mess
    globals()[f"test_{i:02d}b_check_after_{mess.__name__}"] = test_check


for _i, _m in enumerate(MESSES):
    make(_i, _m)
