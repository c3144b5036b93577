"""--dut-reuse snapshot: each test gets the chip back exactly as it was the moment it was ready
(QEMU's savevm/loadvm), whatever the previous test did, its chip time too; no_boot tests still get
a cold chip;
boards whose snapshots QEMU 7.2 cannot restore say so and reset instead."""

import dataclasses
import warnings

import pytest

from harness.backends.qemu_pool import QemuPool
from harness.backends.qemu_snapshot import SnapshotPool
from harness.backends.qemu_world import QemuWorld, ReuseFallback, on_icount
from harness.testing.pool_proof import differences, snapshot

pytestmark = pytest.mark.targets("qsm-auto")  # MPS2 AN385: snapshots restore it

TIMER0 = 0x40000000  # a CMSDK timer the firmware leaves alone


def test_a_restored_chip_equals_the_saved_one_after_any_mess(target, harness_manager):
    image = harness_manager.image(target)
    pool = SnapshotPool(target, image, hand_out_halted=True)
    try:
        dut = pool.acquire()                                  # boots once, saved when ready
        saved = snapshot(dut)
        dut.execution.resume()
        assert dut.command("status").startswith("lights=")
        dut.memory.write(0x20001000, b"\xa5" * 4096)          # RAM
        dut.memory.write(0x100, b"\xde\xad\xbe\xef")          # code memory
        dut.memory.write_u32(TIMER0 + 0x08, 0x1234)           # a peripheral: RELOAD
        dut.memory.write_u32(TIMER0 + 0x00, 0x1)              # and running
        fn = dut.image.symbol("main").address & ~1
        dut.execution.set_breakpoint(fn)                      # left set, core left halted
        dut.execution.halt()
        for i in range(13):
            dut.execution.write_register(f"r{i}", 0xBAD00000 + i)
        dut.close()

        dut = pool.acquire()
        assert pool.stats["restored"] == 1 and pool.stats["booted"] == 1
        problems = differences(snapshot(dut), saved)
        assert not problems, "restored chip differs from the saved one:\n" + "\n".join(problems)
        assert dut.running_version == dut.image.version
        assert "READY" in dut.console.text                   # what it printed until ready
        dut.execution.resume()
        assert dut.command("status").startswith("lights=")   # and it runs on, no breakpoint
        dut.close()
    finally:
        pool.close()


def test_a_restored_chip_on_chip_time_reads_the_saved_moment(target, harness_manager):
    """Reading the clock saves the devices' state only: the snapshot drive stays usable, and a
    restored chip's clock is back at the moment it was saved, to the nanosecond."""
    timed = on_icount(target)
    pool = SnapshotPool(timed, harness_manager.image(timed), hand_out_halted=True)
    try:
        dut = pool.acquire()
        saved = dut.clock.now()
        dut.clock.sleep(200)                                  # 200 ms of chip time run on
        assert dut.clock.now() >= saved + 200_000_000
        dut.close()
        for _ in range(2):
            dut = pool.acquire()
            assert dut.clock.now() == saved
            dut.clock.sleep(50)
            dut.close()
        assert pool.stats["restored"] == 2 and pool.stats["booted"] == 1
    finally:
        pool.close()


def test_no_boot_still_gets_a_cold_chip(target, harness_manager):
    image = harness_manager.image(target)
    pool = SnapshotPool(target, image, cold=QemuPool(target, image))
    try:
        dut = pool.acquire(boot=False)
        vector_pc = int.from_bytes(image.read_static(4, 4), "little") & ~1
        assert dut.execution.read_register("pc") == vector_pc
        assert dut.step != "ready (restored)"
        dut.close()
    finally:
        pool.close()


def test_a_board_without_snapshots_says_so_and_resets(harness_manager, harness_settings):
    washer = harness_manager.target("qsm-washer")  # lm3s6965evb: loadvm aborts QEMU 7.2
    settings = dataclasses.replace(harness_settings, dut_reuse="snapshot")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        pool = QemuWorld().pool(washer, harness_manager.image(washer), settings)
    try:
        assert isinstance(pool, QemuPool)
        [w] = [w for w in seen if issubclass(w.category, ReuseFallback)]
        assert "qsm-washer: --dut-reuse snapshot not available (board lm3s6965evb: loadvm " \
               "aborts QEMU 7.2" in str(w.message)
    finally:
        pool.close()
