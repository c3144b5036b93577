"""The pyocd world's chip clock over a scripted cycle counter: wrap extension, conversion at
the core's rate, where the rate comes from, run_for/sleep and the watcher that keeps counting
wraps.

The counter below advances by a fixed step at each reading while the core runs, so what the
clock must say is known exactly. The real counter (the qemu: probe's DWT on QEMU's icount) is
proven in tests/integration/pyocd/test_pyocd_chip_clock.py.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.backends import pyocd_clock as pc
from harness.backends import pyocd_world as pw
from harness.errors import HarnessError
from harness.plugin import _chip_time_line
from harness.settings import RunSettings

WRAP = 1 << 32


class Chip:
    """DEMCR, DWT_CTRL and a CYCCNT that moves by ``step`` at each reading while running and
    at each halt of a running core; ``truth`` is its count without wraps."""

    def __init__(self, truth: int = 0, step: int = 1000) -> None:
        self.truth = truth
        self.step = step
        self.running = False
        self.regs = {pc.DEMCR: 0, pc.DWT_CTRL: 0}
        self.words: dict[int, int] = {}
        self.lock = threading.Lock()
        self.last_read = truth  # the truth the last CYCCNT reading returned

    # Memory
    def read_u32(self, address: int) -> int:
        if address != pc.DWT_CYCCNT:
            return self.regs.get(address, self.words.get(address, 0))
        with self.lock:
            self.last_read = self.truth
            if self.running:
                self.truth += self.step
            return self.last_read % WRAP

    def write_u32(self, address: int, value: int) -> None:
        self.regs[address] = value

    # Execution
    @property
    def is_halted(self) -> bool:
        return not self.running

    def resume(self) -> None:
        self.running = True

    def halt(self) -> None:
        with self.lock:
            if self.running:
                self.truth += self.step
            self.running = False


def _clock(chip: Chip, per_cycle: Fraction = Fraction(1), emulated: bool = False):
    return pc.DwtClock(chip, chip, lambda: per_cycle, "chip", emulated=emulated)  # type: ignore[arg-type]


def _wait(pred, what: str) -> None:
    deadline = time.monotonic() + 20  # a bound on a busy machine, not a speed requirement
    while not pred():
        assert time.monotonic() < deadline, what
        time.sleep(0.005)


def test_wraps_extend_a_32_bit_count():
    w = pc.Wraps()
    got = [w.extend(r) for r in (0xFFFF_FFF0, 0x10, 0x20, 0xFFFF_0000, 5)]
    assert got == [0xFFFF_FFF0, WRAP + 0x10, WRAP + 0x20, WRAP + 0xFFFF_0000, 2 * WRAP + 5]


def test_cycles_become_ns_exactly_at_the_cores_rate():
    assert pc.ns_per_cycle(62_500_000) == 16  # the qemu: probe's shift 4
    assert pc.to_ns(3, pc.ns_per_cycle(168_000_000)) == 17  # 17.86 ns, rounded down
    assert pc.to_ns(2**40, pc.ns_per_cycle(100_000_000)) == 10 * 2**40  # no float drift


def test_power_on_enables_the_counter_and_chip_time_counts_from_there_across_wraps():
    chip = Chip(truth=WRAP - 0x180, step=0x100)
    clock = _clock(chip, Fraction(16))
    try:
        clock.power_on()
        assert chip.regs[pc.DEMCR] & pc.TRCENA and chip.regs[pc.DWT_CTRL] & pc.CYCCNTENA
        start = chip.last_read
        assert clock.now() == 0  # halted: no chip time
        chip.resume()
        for _ in range(5):  # through the wrap
            assert clock.now() == 16 * (chip.last_read - start)
        assert chip.last_read > WRAP
    finally:
        clock.close()


def test_run_for_runs_at_least_that_long_then_halts_and_sleep_leaves_it_running():
    chip = Chip(step=1_000_000)  # 1 ms of chip time per reading at 1 ns a cycle
    clock = _clock(chip)
    try:
        clock.power_on()
        ran = clock.run_for(10)
        assert ran >= 10_000_000 and chip.is_halted
        assert clock.now() == clock.now()  # halted: it stands
        slept = clock.sleep(5)
        assert slept >= 5_000_000 and not chip.is_halted
    finally:
        clock.close()


def test_an_emulated_core_is_halted_for_each_reading_of_a_run_for():
    """On an emulated chip the way back from a reading is chip time nobody sized: run_for
    reads its counter with the core halted, so it never reads a running core."""
    chip = Chip(step=1_000_000)
    clock = _clock(chip, emulated=True)
    running_reads = []
    read = chip.read_u32

    def watched(address: int) -> int:
        if address == pc.DWT_CYCCNT and threading.current_thread() is threading.main_thread():
            running_reads.append(chip.running)  # run_for's own (not the watcher's)
        return read(address)

    chip.read_u32 = watched  # type: ignore[method-assign]
    try:
        clock.power_on()
        ran = clock.run_for(10)
        assert ran >= 10_000_000 and chip.is_halted
        assert len(running_reads) > 2 and not any(running_reads)
    finally:
        clock.close()


def test_the_watcher_keeps_counting_wraps_nobody_else_reads():
    chip = Chip(step=WRAP // 2)  # half a wrap per reading: each one must be seen
    clock = _clock(chip, emulated=True)
    try:
        clock.power_on()
        start = chip.last_read
        chip.resume()
        _wait(lambda: clock.reads >= 8, "the watcher's readings")
        clock.idle()
        assert clock.now() == chip.last_read - start > 3 * WRAP
        reads = clock.reads
        time.sleep(3 * clock.watch_interval())
        assert clock.reads == reads  # idle: no more watching
    finally:
        clock.close()


def test_the_watcher_reads_twice_per_wrap_at_the_fastest_speed_seen():
    emulated = _clock(Chip(), Fraction(16), emulated=True)
    emulated._rate = Fraction(16)
    assert emulated.watch_interval() == pytest.approx(WRAP * 16 / 50e9 / 2)  # 0.69 s
    part = _clock(Chip(), pc.ns_per_cycle(400_000_000))
    part._rate = pc.ns_per_cycle(400_000_000)
    assert part.watch_interval() == pytest.approx(WRAP * 2.5 / 1e9 / 2)  # 5.4 s: real time
    part.fastest = 4e9  # seen running faster than its stated clock: watched more often
    assert part.watch_interval() == pytest.approx(WRAP * 2.5 / 4e9 / 2)


def _owner(core_clock_hz=None, symbols=None, memory=None):
    return SimpleNamespace(
        name="chip", memory=memory,
        target=SimpleNamespace(bench=SimpleNamespace(core_clock_hz=core_clock_hz),
                               source="targets/part.yaml"),
        image=SimpleNamespace(symbols=symbols or {}))


def test_the_rate_comes_from_the_probe_then_the_target_then_system_core_clock():
    symbol = {"SystemCoreClock": SimpleNamespace(address=0x20000010)}
    chip = Chip()
    assert pc.clock_rate(_owner(50_000_000, symbol, chip), 16)() == 16  # the probe's, exact
    assert pc.clock_rate(_owner(50_000_000, symbol, chip), None)() == 20  # the bench's figure
    rate = pc.clock_rate(_owner(None, symbol, chip), None)
    chip.words[0x20000010] = 168_000_000  # read when first converting: after boot
    assert rate() == Fraction(10**9, 168_000_000)
    chip.words[0x20000010] = 0
    with pytest.raises(HarnessError, match="SystemCoreClock reads 0"):
        pc.clock_rate(_owner(None, symbol, chip), None)()


def test_without_a_rate_there_is_no_chip_clock_and_the_message_says_what_to_set():
    with pytest.raises(pc.NoCycleCounter, match="bench.core_clock_hz in targets/part.yaml"):
        pc.clock_rate(_owner(), None)


# -- which targets the pyocd world gives chip time, before any chip is opened ---------------------
@pytest.fixture
def settings(tmp_path):
    return RunSettings(root=tmp_path, targets_dir=tmp_path, results=tmp_path, world="pyocd",
                       probe="qemu:auto")


def test_qemu_auto_chips_run_on_icount_and_get_the_clock(settings, harness_manager):
    world, washer = pw.PyocdWorld(), harness_manager.target("qsm-washer")
    for mode in ("on", "auto"):
        run = dataclasses.replace(settings, chip_time=mode)
        assert "clock" in world.capabilities_for(run, washer)
        assert pw.chip_timed(washer, run).qemu.extra_args[-2:] == ["-icount", "shift=4,sleep=off"]
        assert pw.chip_time_mode(washer, run) == mode
    off = dataclasses.replace(settings, chip_time="off")
    assert "clock" not in world.capabilities_for(off, washer)
    assert pw.chip_timed(washer, off) is washer and pw.chip_time_mode(washer, off) == "off"


def test_a_bench_probe_gets_the_clock_where_the_core_has_a_cycle_counter(settings,
                                                                         harness_manager):
    world, washer = pw.PyocdWorld(), harness_manager.target("qsm-washer")
    bench = dataclasses.replace(settings, probe="0240000034544e45", chip_time="auto")
    assert "clock" in world.capabilities_for(bench, washer)  # a Cortex-M3: checked at open
    assert pw.chip_timed(washer, bench) is washer  # no QEMU of ours to put on icount
    m0 = washer.model_copy(update={"cpu": "cortex-m0"})
    assert "clock" not in world.capabilities_for(bench, m0)
    on = dataclasses.replace(bench, chip_time="on")
    [problem] = world.check(m0, on)
    assert "cortex-m0 (ARMv6-M) has no DWT cycle counter" in problem


def test_the_header_says_which_targets_run_on_chip_time_in_the_pyocd_world(settings):
    root = Path(__file__).resolve().parents[2]
    run = dataclasses.replace(settings, targets_dir=root / "targets", chip_time="auto")
    line = _chip_time_line(run, ["qsm-washer", "qsm-auto"])
    assert line is not None
    assert line.startswith("harness: chip time (auto) on qsm-washer, qsm-auto (DWT cycle "
                           "counters, each checked when its probe opens)")
