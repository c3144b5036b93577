"""Proof that a reused chip is a fresh chip.

Each "mess" test leaves the chip in a state a careless test could leave (RAM corrupted, flash
written, registers changed, core halted at a breakpoint, locked in a HardFault, UART mid-line
with bytes queued while halted, stimulus set, a program running, a timer programmed and left
running). Each is followed by a check
that takes the chip the pool hands out next — halted at power-on — and compares it, register by
register and memory region by memory region, with a chip from a brand-new QEMU process; then
boots both and compares what they report. Run in both orders, and under ``-n 2``.
"""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.targets("qsm-washer")
ROOT = Path(__file__).resolve().parents[2]

INNER = r'''
import os
import pytest
from harness.backends.qemu import open_dut
from harness.backends.qemu_reset import differences, snapshot
from harness.errors import DutFault

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


MESSES = [mess_ram, mess_flash, mess_registers, mess_breakpoint, mess_hardfault, mess_uart,
          mess_stimulus, mess_program, mess_timers]
if os.environ.get("MESS_ORDER") == "reverse":
    MESSES.reverse()


_REFERENCE = {}


@pytest.fixture
def reference(target, harness_manager):
    """A chip from a brand-new process: its power-on snapshot and what it reports booted."""
    if target.name not in _REFERENCE:
        fresh = open_dut(target, harness_manager.image(target), name="reference", boot=False)
        try:
            snap = snapshot(fresh.backend, target)
            fresh.boot()
            _REFERENCE[target.name] = snap, booted_view(fresh)
        finally:
            fresh.close()
    return _REFERENCE[target.name]


def booted_view(dut):
    status = re.sub(r" t=\d+", "", dut.command("status"))
    return status, dut.command("faults"), dut.symbols["stimulus"], dut.symbols["outputs"]


def check(dut, target, reference):
    fresh_snap, fresh_view = reference
    problems = differences(snapshot(dut.backend, target), fresh_snap, target)
    assert not problems, "reused chip differs from a fresh one:\n" + "\n".join(problems)
    dut.boot()
    assert booted_view(dut) == fresh_view
    print(f"CHECK pid={dut.backend.process.pid}")


def make(i, mess):
    def test_mess(dut):
        print(f"MESS {mess.__name__} pid={dut.backend.process.pid}")
        mess(dut)

    @pytest.mark.no_boot
    def test_check(dut, target, reference):
        check(dut, target, reference)

    globals()[f"test_{i:02d}a_{mess.__name__}"] = test_mess
    globals()[f"test_{i:02d}b_check_after_{mess.__name__}"] = test_check


import re
for _i, _m in enumerate(MESSES):
    make(_i, _m)
'''


def _run(pytester, monkeypatch, order, *args):
    pytester.makeini(f"""
        [pytest]
        harness_targets_dir = {ROOT / 'targets'}
        harness_targets = qsm-washer
        harness_bench = {ROOT / 'targets' / 'benches' / 'emulated.yaml'}
    """)
    pytester.makepyfile(test_messes=INNER)
    monkeypatch.setenv("MESS_ORDER", order)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", "-v",
                                         "--dut-reuse", "reset", *args)


@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_reused_chip_equals_a_fresh_one(pytester, monkeypatch, order):
    result = _run(pytester, monkeypatch, order)
    result.assert_outcomes(passed=18)
    out = result.stdout.str()
    messes = dict(re.findall(r"MESS (\w+) pid=(\d+)", out))
    checks = re.findall(r"CHECK pid=(\d+)", out)
    assert len(messes) == 9 and len(checks) == 9
    # the checks really got the messed-up processes back (not only new ones)
    reused = [name for name, pid in messes.items() if pid in checks]
    assert len(reused) >= 7, f"too few messes were followed by a reuse: {reused}"


def test_under_xdist(pytester, monkeypatch):
    result = _run(pytester, monkeypatch, "forward", "-n", "2")
    result.assert_outcomes(passed=18)


def test_fresh_mode_starts_a_process_per_test(pytester, monkeypatch):
    pytester.makeini(f"""
        [pytest]
        harness_targets_dir = {ROOT / 'targets'}
        harness_targets = qsm-washer
        harness_bench = {ROOT / 'targets' / 'benches' / 'emulated.yaml'}
    """)
    pytester.makepyfile(test_two="""
        def test_a(dut):
            print("PID", dut.backend.process.pid)

        def test_b(dut):
            print("PID", dut.backend.process.pid)
    """)
    out = pytester.runpytest_subprocess("-s", "--dut-reuse", "fresh").stdout.str()
    assert len(set(re.findall(r"PID (\d+)", out))) == 2
    out = pytester.runpytest_subprocess("-s", "--dut-reuse", "reset").stdout.str()
    assert len(set(re.findall(r"PID (\d+)", out))) == 1
