"""Proof that a DUT reused through pyOCD (reset by the probe, not relaunched and re-flashed) is
a fresh one: each "mess" test leaves the chip dirty, and the next test — handed the same session
— must boot to exactly what a brand-new pyOCD session on a brand-new chip reports."""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.targets("qsm-washer")
ROOT = Path(__file__).resolve().parents[3]

INNER = r'''
import os
import re
import pytest
from harness.backends.pyocd import open_dut
from harness.config import board_profile
from harness.errors import DutFault

_REFERENCE = {}


def view(dut):
    timers = {r.info.path: r.read() for name in ("TIMER1", "TIMER2", "TIMER3")
              for r in dut.regs[name] if r.info.observable}  # the firmware leaves them alone
    blocks = {block.block: [dut.memory.read_u32(block.base + off)
                            for off in block.registers.values()]
              for block in board_profile(dut.target.board).observe}  # the board's, read back
    return (re.sub(r" t=\d+", "", dut.command("status")), dut.command("faults"),
            dut.symbols["stimulus"], dut.symbols["outputs"], dut.loader.verify(dut.image),
            timers, blocks)


@pytest.fixture
def reference(target, harness_manager):
    if not _REFERENCE:
        fresh = open_dut(target, harness_manager.image(target), name="reference",
                         probe="qemu:auto")
        try:
            _REFERENCE["view"] = view(fresh)
        finally:
            fresh.close()
    return _REFERENCE["view"]


def mess_ram(dut):
    dut.memory.write(0x20004000, os.urandom(4096))


def mess_flash(dut):
    dut.memory.write(0x100, b"\xde\xad\xbe\xef" * 8)


def mess_breakpoint(dut):
    fn = dut.image.symbol("cmd_status").address & ~1
    dut.execution.set_breakpoint(fn)
    dut.console.sendline("status")
    assert dut.execution.wait_halt(2).pc == fn


def mess_hardfault(dut):
    with pytest.raises(DutFault):
        dut.command("crash")


def mess_uart(dut):
    dut.console.write(b"sta")
    dut.execution.halt()
    dut.console.write(b"x" * 40)


def mess_program(dut):
    dut.symbols["stimulus.door_closed"] = 0
    dut.symbols["stimulus.door_closed"] = 1
    dut.command("start cotton")


def mess_timers(dut):
    t = dut.regs.TIMER1
    t.CFG.write(4)
    t.TAMR.write(2)
    t.TAILR.write(0x1234)
    t.IMR.TATOIM = 1
    t.CTL.TAEN = 1                                        # left running


def mess_peripherals(dut):
    for address, value in ((0x40038000, 0xF), (0x40008004, 0x2), (0x40020020, 0x10)):
        dut.memory.write_u32(address, value)               # ADC, SSI0, I2C0 left enabled


for _i, _m in enumerate([mess_ram, mess_flash, mess_breakpoint, mess_hardfault, mess_uart,
                         mess_program, mess_timers, mess_peripherals]):
    def _mess(dut, _m=_m):
        print(f"MESS {_m.__name__} uid={dut.backend.uid}")
        _m(dut)

    def _check(dut, reference):
        assert view(dut) == reference
        print(f"CHECK uid={dut.backend.uid}")

    globals()[f"test_{_i:02d}a_{_m.__name__}"] = _mess
    globals()[f"test_{_i:02d}b_check"] = _check
'''


def test_reused_pyocd_session_equals_a_fresh_one(pytester):
    pytester.makeini(f"""
        [pytest]
        harness_targets_dir = {ROOT / 'targets'}
        harness_targets = qsm-washer
        harness_bench = {ROOT / 'targets' / 'benches' / 'emulated.yaml'}
    """)
    pytester.makepyfile(test_messes=INNER)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", "--world", "pyocd",
                                           "--probe", "qemu:auto", "--dut-reuse", "reset")
    result.assert_outcomes(passed=16)
    out = result.stdout.str()
    uids = set(re.findall(r"(?:MESS \w+|CHECK) uid=(\S+)", out))
    assert len(uids) <= 2, f"the session was not reused: {uids}"  # a discard may add one
