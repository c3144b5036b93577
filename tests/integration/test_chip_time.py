"""Chip time in the qemu world (``--chip-time on``): QEMU on icount with ``sleep=off``, its
virtual clock read exactly through its migration stream, as ``dut.clock``.

These tests open their chips on chip time directly, whatever the run's --chip-time.
"""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.backends.qemu import open_dut
from harness.backends.qemu_pool import QemuPool
from harness.backends.qemu_world import chip_timed
from harness.errors import ConsoleTimeout
from harness.testing.calls import run_to_call
from harness.testing.load import cpu_hogs

MS = 1_000_000  # ns


@pytest.fixture
def washer(harness_manager):
    target = harness_manager.target("qsm-washer")
    settings = dataclasses.replace(harness_manager.settings, chip_time="on")
    return chip_timed(target, settings), harness_manager.image(target)


@pytest.fixture
def chip(washer):
    target, image = washer
    dut = open_dut(target, image, name="chip-time")
    yield dut
    dut.close()


def test_the_chip_runs_on_icount_with_its_boards_shift(washer):
    target, _ = washer
    args = target.qemu.extra_args
    assert args[args.index("-icount") + 1] == "shift=4,sleep=off"  # lm3s6965evb


def test_chip_time_stands_still_while_halted_and_runs_while_running(chip):
    assert chip.has("clock")
    chip.execution.halt()
    a = chip.clock.now()
    b = chip.clock.now()
    assert a == b > 0  # booted: some chip time since power-on; none while halted
    chip.execution.resume()
    slept = chip.clock.sleep(50)
    assert slept >= 50 * MS
    assert chip.clock.now() >= b + slept
    assert not chip.execution.is_halted
    assert chip.command("status").startswith("state=IDLE")  # the reads left it working


def test_run_for_runs_that_much_chip_time_then_holds_the_chip(chip):
    chip.execution.halt()
    start = chip.clock.now()
    ran = chip.clock.run_for(200)
    assert ran >= 200 * MS
    assert chip.execution.is_halted
    held = chip.clock.now()
    assert held - start >= ran
    assert chip.clock.now() == held
    ticks = chip.symbols["ms_count"]
    chip.clock.run_for(100)
    assert chip.symbols["ms_count"] > ticks  # the firmware's own timer ran in between


def test_run_for_runs_at_least_that_long_near_or_far(chip):
    chip.execution.halt()
    for ms in (3, 40, 700):
        assert chip.clock.run_for(ms) >= ms * MS
        assert chip.execution.is_halted


def _chip_time_at_tick(target, image, ticks: int) -> tuple[int, int]:
    """(chip time, the firmware's ms count) when the washer's controller steps for the
    ``ticks``-th time since reset."""
    dut = open_dut(target, image, name="chip-time-det", boot=False)
    try:
        run_to_call(dut, "washer_step", ticks)
        return dut.clock.now(), dut.symbols["ms_count"]
    finally:
        dut.close()


def test_the_same_firmware_reaches_the_same_point_at_the_same_chip_time_under_load(washer):
    """Chip time does not depend on the host: the controller's 25th step comes at the same
    chip time, to the nanosecond, with and without two processes taking the CPUs."""
    target, image = washer
    quiet = _chip_time_at_tick(target, image, 25)
    hogs = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(2)]
    try:
        busy = _chip_time_at_tick(target, image, 25)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    assert quiet == busy
    assert quiet[1] == 25 and quiet[0] > 25 * MS  # the 25th tick, 1 ms each


def test_a_reused_chips_clock_starts_again_at_power_on(washer):
    target, image = washer
    pool = QemuPool(target, image)
    try:
        first = pool.acquire()
        first.clock.run_for(300)
        first.execution.resume()
        first.close()  # back to the pool
        again = pool.acquire()
        try:
            assert pool.stats["reused"] == 1
            assert again.clock.now() < 300 * MS  # counted from this power-on, not the last
        finally:
            again.close()
    finally:
        pool.close()


GPTM1_TAILR = 0x40031028  # a timer register the washer's firmware leaves alone


def test_device_writes_to_a_chip_halted_at_any_moment_all_complete(chip):
    """A device register is written by the core: a store planted in RAM and single-stepped.
    Halted while asleep in WFI on icount, the core must still wake for that step; QEMU's
    default step stops its timers, and such a step never ended (QEMU then dropped every
    packet but ^C). The halt lands at random moments, with the host loaded, so that some land
    while the core sleeps."""
    rng = random.Random(13)
    with cpu_hogs(2):
        for n in range(1500):
            chip.execution.resume()
            time.sleep(rng.uniform(0, 0.002))
            chip.memory.write_u32(GPTM1_TAILR, n)
            assert chip.memory.read_u32(GPTM1_TAILR) == n
    chip.execution.resume()
    assert chip.command("status").startswith("state=IDLE")


def test_without_chip_time_a_dut_has_no_clock(harness_manager):
    target = harness_manager.target("qsm-washer")
    dut = open_dut(target, harness_manager.image(target), name="no-chip-time")
    try:
        assert not dut.has("clock")
        with pytest.raises(Exception, match="requires\\('clock'\\)"):
            dut.clock.now()
    finally:
        dut.close()


def _stopped_by_the_host(dut, seconds: float) -> None:
    """QEMU stopped (SIGSTOP) now, and let go on after ``seconds`` of host time."""
    os.kill(dut.backend.pid, signal.SIGSTOP)
    threading.Timer(seconds, os.kill, (dut.backend.pid, signal.SIGCONT)).start()


def test_a_console_wait_is_not_lost_on_time_the_chip_never_had(chip, harness_manager):
    """A command's timeout counts the chip's time where it has a clock: QEMU stopped by the
    host for longer than the timeout (what a loaded host does to it, in the extreme) still
    gets its answer. On the host's time the same wait fails."""
    _stopped_by_the_host(chip, 2.0)
    assert chip.command("status", timeout=0.1).startswith("state=IDLE")

    target = harness_manager.target("qsm-washer")
    host_timed = open_dut(target, harness_manager.image(target), name="host-time")
    try:
        _stopped_by_the_host(host_timed, 2.0)
        with pytest.raises(ConsoleTimeout, match="within"):
            host_timed.command("status", timeout=0.1)
    finally:
        time.sleep(2.0)
        host_timed.close()


CLOCKED = """
import pytest

@pytest.mark.requires("clock")
def test_the_boot_took_chip_time(dut):
    assert dut.has("clock") and dut.clock.now() > 0
    assert dut.command("status").startswith("state=IDLE")
"""


def test_the_chip_time_option_gives_requires_clock_tests_their_clock(pytester):
    root = Path(__file__).resolve().parents[2]
    pytester.makeini(f"""
        [pytest]
        harness_targets_dir = {root / 'targets'}
        harness_targets = qsm-washer
    """)
    pytester.makepyfile(test_clocked=CLOCKED)
    on = pytester.runpytest_subprocess("--chip-time", "on", "-p", "no:cacheprovider")
    on.assert_outcomes(passed=1)
    auto = pytester.runpytest_subprocess("-p", "no:cacheprovider")  # the default: auto
    auto.assert_outcomes(passed=1)
    off = pytester.runpytest_subprocess("--chip-time", "off", "-p", "no:cacheprovider", "-rs")
    off.assert_outcomes(skipped=1)
    assert "the qemu world lacks clock" in off.stdout.str()
