"""Proof that a reused chip is a fresh chip.

Each "mess" test leaves the chip in a state a careless test could leave (RAM corrupted, flash
written, registers changed, core halted at a breakpoint, locked in a HardFault, UART mid-line
with bytes queued while halted, stimulus set, a program running, a timer programmed and left
running, the ADC, SSI and I2C blocks programmed). Each is followed by a check
that takes the chip the pool hands out next — halted at power-on — and compares it, register by
register and memory region by memory region, with a chip from a brand-new QEMU process; then
boots both and compares what they report. Run in both orders, and under ``-n 2``. The inner
test module is ``pool_messes.py``; the comparison is :mod:`harness.testing.pool_proof`.
"""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.targets("qsm-washer")
ROOT = Path(__file__).resolve().parents[2]

# the inner test module: a real file, linted, copied into each pytester run
MESSES = Path(__file__).with_name("pool_messes.py")


def _run(pytester, monkeypatch, order, *args):
    pytester.makeini(f"""
        [pytest]
        harness_targets_dir = {ROOT / 'targets'}
        harness_targets = qsm-washer
        harness_bench = {ROOT / 'targets' / 'benches' / 'emulated.yaml'}
    """)
    pytester.makepyfile(test_messes=MESSES.read_text())
    monkeypatch.setenv("MESS_ORDER", order)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", "-v",
                                         "--dut-reuse", "reset", *args)


@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_reused_chip_equals_a_fresh_one(pytester, monkeypatch, order):
    result = _run(pytester, monkeypatch, order)
    result.assert_outcomes(passed=20)
    out = result.stdout.str()
    messes = dict(re.findall(r"MESS (\w+) pid=(\d+)", out))
    checks = re.findall(r"CHECK pid=(\d+)", out)
    assert len(messes) == 10 and len(checks) == 10
    # the checks really got the messed-up processes back (not only new ones)
    reused = [name for name, pid in messes.items() if pid in checks]
    assert len(reused) >= 7, f"too few messes were followed by a reuse: {reused}"


def test_under_xdist(pytester, monkeypatch):
    result = _run(pytester, monkeypatch, "forward", "-n", "2")
    result.assert_outcomes(passed=20)


def test_fresh_mode_starts_a_process_per_test(pytester, monkeypatch):
    pytester.makeini(f"""
        [pytest]
        harness_targets_dir = {ROOT / 'targets'}
        harness_targets = qsm-washer
        harness_bench = {ROOT / 'targets' / 'benches' / 'emulated.yaml'}
    """)
    pytester.makepyfile(test_two="""
        def test_a(dut):
            print("PID", dut.backend.pid)

        def test_b(dut):
            print("PID", dut.backend.pid)
    """)
    out = pytester.runpytest_subprocess("-s", "--dut-reuse", "fresh").stdout.str()
    assert len(set(re.findall(r"PID (\d+)", out))) == 2
    out = pytester.runpytest_subprocess("-s", "--dut-reuse", "reset").stdout.str()
    assert len(set(re.findall(r"PID (\d+)", out))) == 1


def test_the_proof_sees_a_restore_taken_away(target, harness_manager):
    """The proof compares every observable register of the board with a fresh process: with
    one restore removed from the board's list, the reused chip differs, by name."""
    from harness.backends.qemu import open_dut
    from harness.backends.qemu_pool import QemuPool
    from harness.testing.pool_proof import differences, snapshot

    adc_actss = 0x40038000
    qemu = target.qemu.model_copy(update={"reset_writes": [
        w for w in target.qemu.reset_writes if w.address != adc_actss]})
    crippled = target.model_copy(update={"qemu": qemu})
    image = harness_manager.image(target)
    fresh = open_dut(crippled, image, name="reference", boot=False)
    try:
        fresh_snap = snapshot(fresh)
    finally:
        fresh.close()
    for chip_target, expect_differences in ((crippled, True), (target, False)):
        pool = QemuPool(chip_target, image)
        try:
            dut = pool.acquire(boot=False)
            dut.memory.write_u32(adc_actss, 0xF)
            dut.close()
            dut = pool.acquire(boot=False)
            assert pool.stats["reused"] == 1
            problems = differences(snapshot(dut), fresh_snap)
            dut.close()
        finally:
            pool.close()
        if expect_differences:
            assert problems == ["device register ADC.ACTSS (0x40038000): 0x0000000f, "
                                "fresh 0x00000000"], problems
        else:
            assert problems == []
