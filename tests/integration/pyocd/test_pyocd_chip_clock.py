"""Chip time in the pyocd world: the DWT cycle counter of the qemu: probe, read by real pyOCD
from a real QEMU on icount, and ``dut.clock`` over it.

The tests open their chips on chip time (or without it) themselves, whatever the run's
--chip-time and --world.
"""

from __future__ import annotations

import dataclasses
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from harness import patience
from harness.backends import pyocd_world
from harness.backends.pyocd import ChipTimeFallback, open_dut
from harness.backends.pyocd_pool import PyocdPool
from harness.backends.qemu import open_dut as open_qemu_dut
from harness.backends.qemu_world import chip_timed
from harness.errors import HarnessError
from harness.probes import emulated_dwt, launch
from harness.testing.calls import run_to_call

pytestmark = pytest.mark.targets("qsm-washer")
MS = 1_000_000  # ns
DWT_CTRL, DWT_CYCCNT = 0xE0001000, 0xE0001004
NOCYCCNT = 1 << 25
PYOCD = str(Path(sys.executable).with_name("pyocd"))


@pytest.fixture
def on(harness_manager):
    """The run's settings with chip time on, the chips behind qemu:auto."""
    return dataclasses.replace(harness_manager.settings, chip_time="on", probe="qemu:auto")


@pytest.fixture
def clocked(target, image, on, request):
    """A booted washer in the pyocd world on chip time, as the world opens it."""
    dut = pyocd_world.PyocdWorld().open(target, image, name=f"clock-{request.node.name}"[:60],
                                        log_dir=None, settings=on)
    yield dut
    dut.close()


@pytest.fixture
def on_icount(target, image):
    """A QEMU on icount (the washer preloaded), serving its gdbstub for pyOCD."""
    served = launch.serve(target.qemu.machine, image.path, shift=4)
    yield served
    served.close()


def _session(uid: str):
    from pyocd.core.helpers import ConnectHelper

    return ConnectHelper.session_with_chosen_probe(
        unique_id=uid, blocking=False, return_first=True,
        options={"connect_mode": "halt", "resume_on_disconnect": False})


def test_pyocd_finds_the_dwt_and_its_cyccnt_counts_qemus_instructions(on_icount, image):
    """CYCCNT is ``virtual ns >> shift`` of QEMU's clock: between two halts it moved by exactly
    the clock's cycles, it stands still while halted, and a stepped instruction counts (what
    the pyocd world's check of a part's counter relies on)."""
    with _session(on_icount.uid) as session:
        target = session.target
        core = target.selected_core
        assert core.dwt is not None and core.dwt.has_cycle_counter  # pyOCD's own view
        dwt = emulated_dwt(session)
        assert dwt is not None and dwt.cycle_ns == 16 and dwt.cycles is not None
        target.write32(DWT_CYCCNT, 0)
        start = dwt.cycles.read_ns()  # the reading the write took (nothing ran since)
        target.resume()
        time.sleep(0.05)
        target.halt()
        count = target.read32(DWT_CYCCNT)
        end = dwt.cycles.read_ns()
        assert count == (end >> 4) - (start >> 4) > 0
        assert target.read32(DWT_CYCCNT) == count  # halted: no chip time
        # at a function's first instruction (not asleep in WFI). QEMU steps with its timers
        # running (harness.emu.rsp): on icount a step may also skip to the next timer deadline
        at = image.symbol("washer_step").address & ~1
        target.set_breakpoint(at)
        target.resume()
        deadline = time.monotonic() + patience.limit(10.0)
        while not target.is_halted():
            assert time.monotonic() < deadline, "washer_step was not reached"
            time.sleep(0.001)
        target.remove_breakpoint(at)
        before, now = target.read32(DWT_CYCCNT), dwt.cycles.now()
        target.step()
        assert target.read32(DWT_CYCCNT) - before == dwt.cycles.now() - now > 0


def _read32(out: str, address: int) -> list[int]:
    return [int(v, 16) for v in re.findall(rf"^{address:08x}:\s+([0-9a-f]{{8}})", out, re.M)]


def _launcher(*args: str) -> tuple[subprocess.Popen, dict[str, str]]:
    proc = subprocess.Popen([sys.executable, "-m", "harness.probes.launch", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    said = {}
    while "monitor" not in said:
        line = proc.stdout.readline()
        assert line, f"the launcher ended: {proc.communicate()[1]}"
        key, _, value = line.strip().partition(" ")
        said[key] = value.strip()
    if "--chip-time" in args:
        key, _, value = proc.stdout.readline().strip().partition(" ")
        said[key] = value.strip()
    return proc, said


def _commander(uid: str, *commands: str) -> str:
    argv = [PYOCD, "commander", "-u", uid]
    for c in commands:
        argv += ["-c", c]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=patience.limit(120))
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_pyocd_commander_reads_cyccnt_moving_on_a_launched_chip(image):
    launcher, said = _launcher("--chip-time", "--kernel", str(image.path))
    try:
        assert said["cycles"] == "16 ns"  # the lm3s6965evb's chip_time_shift 4
        uid = said["probe"]
        out = _commander(uid, f"read32 0x{DWT_CYCCNT:08x}", "go", "sleep 50", "halt",
                         f"read32 0x{DWT_CYCCNT:08x}", f"read32 0x{DWT_CYCCNT:08x}")
        first, second, third = _read32(out, DWT_CYCCNT)
        assert second > first and third == second, out  # counts while running, not halted
    finally:
        launcher.send_signal(signal.SIGTERM)
        launcher.communicate(timeout=patience.limit(30))


def test_without_icount_the_launched_chip_has_no_cycle_counter(image):
    launcher, said = _launcher("--kernel", str(image.path))
    try:
        assert "cycles" not in said
        out = _commander(said["probe"], f"read32 0x{DWT_CTRL:08x}", "go", "sleep 20", "halt",
                         f"read32 0x{DWT_CYCCNT:08x}")
        [ctrl] = _read32(out, DWT_CTRL)
        assert ctrl & NOCYCCNT and _read32(out, DWT_CYCCNT) == [0], out
    finally:
        launcher.send_signal(signal.SIGTERM)
        launcher.communicate(timeout=patience.limit(30))


def test_run_for_runs_that_much_chip_time_and_the_firmwares_tick_keeps_pace(clocked):
    """The washer's SysTick counts 1 ms: over a ``run_for`` it advances by the chip ms the
    clock says ran (1.000 ticks per chip ms, as in the qemu world)."""
    assert clocked.has("clock")
    clocked.execution.halt()
    ticks, start = clocked.symbols["ms_count"], clocked.clock.now()
    ran = clocked.clock.run_for(100)
    assert ran >= 100 * MS
    assert clocked.execution.is_halted
    assert clocked.clock.now() - start == ran  # halted since: the clock stands
    counted = clocked.symbols["ms_count"] - ticks
    assert abs(counted - ran / MS) <= 1, f"{counted} ticks in {ran / MS:.3f} chip ms"
    clocked.execution.resume()
    slept = clocked.clock.sleep(30)
    assert slept >= 30 * MS and not clocked.execution.is_halted
    assert clocked.command("status").startswith("state=IDLE")  # the readings left it working


def _time_at_step(dut, steps: int) -> tuple[int, int]:
    try:
        run_to_call(dut, "washer_step", steps)
        return dut.clock.now(), dut.symbols["ms_count"]
    finally:
        dut.close()


def test_the_same_firmware_point_comes_at_the_same_chip_time_in_both_worlds(target, image,
                                                                            on):
    """The washer controller's 25th step after reset, timed by QEMU's clock in the qemu world
    and by the DWT's cycles in the pyocd world: the same to the cycle (16 ns; both read
    50,071,328 ns when measured)."""
    qemu = _time_at_step(open_qemu_dut(chip_timed(target, on), image, name="both-qemu",
                                       boot=False), 25)
    pyocd = _time_at_step(pyocd_world.PyocdWorld().open(target, image, name="both-pyocd",
                                                        log_dir=None, settings=on,
                                                        boot=False), 25)
    assert qemu[1] == pyocd[1] == 25
    assert qemu[0] > 25 * MS
    assert abs(pyocd[0] - qemu[0]) < 16, (qemu, pyocd)


def test_a_reused_chips_clock_starts_again_at_power_on(target, image, on):
    pool = PyocdPool(pyocd_world.chip_timed(target, on), image,
                     dict(probe="qemu:auto", chip_time="on"))
    try:
        first = pool.acquire()
        first.clock.run_for(300)
        first.close()  # back to the pool (halted there)
        again = pool.acquire()
        try:
            assert pool.stats["reused"] == 1 and again.has("clock")
            assert again.clock.now() < 300 * MS  # counted from this power-on, not the last
        finally:
            again.close()
    finally:
        pool.close()


def test_a_chip_without_icount_has_no_clock_and_says_why(target, image):
    """QEMU without -icount: the probe's DWT has no cycle counter. --chip-time on stops, naming
    the target and the reason; auto goes on on the host's time, with a warning."""
    with pytest.raises(HarnessError) as refused:
        open_dut(target, image, name="no-icount-on", probe="qemu:auto", chip_time="on")
    text = str(refused.value)
    assert "--chip-time on: qsm-washer on probe qemu:" in text
    assert "DWT_CTRL.NOCYCCNT is set" in text and "without -icount" in text
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        dut = open_dut(target, image, name="no-icount-auto", probe="qemu:auto",
                       chip_time="auto")
    try:
        assert not dut.has("clock")
        assert any(issubclass(w.category, ChipTimeFallback) and "NOCYCCNT" in str(w.message)
                   for w in seen)
        assert dut.command("status").startswith("state=IDLE")
    finally:
        dut.close()


CLOCKED = """
import pytest

@pytest.mark.requires("clock")
def test_the_boot_took_chip_time(dut):
    assert dut.world == "pyocd" and dut.has("clock") and dut.clock.now() > 0
    assert dut.command("status").startswith("state=IDLE")
"""


def test_the_chip_time_option_gives_the_pyocd_world_its_clock(pytester):
    root = Path(__file__).resolve().parents[3]
    pytester.makeini(f"""
        [pytest]
        harness_targets_dir = {root / 'targets'}
        harness_targets = qsm-washer
    """)
    pytester.makepyfile(test_clocked=CLOCKED)
    args = ("--world", "pyocd", "--probe", "qemu:auto", "-p", "no:cacheprovider", "-rs")
    on = pytester.runpytest_subprocess(*args, "--chip-time", "on")
    on.assert_outcomes(passed=1)
    assert "harness: chip time (on) on qsm-washer (DWT cycle counters" in on.stdout.str()
    off = pytester.runpytest_subprocess(*args, "--chip-time", "off")
    off.assert_outcomes(skipped=1)
    assert "the pyocd world lacks clock" in off.stdout.str()
