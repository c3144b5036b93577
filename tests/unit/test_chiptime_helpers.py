"""harness.chiptime on a stand-in Dut: the chip's clock where there is one, the host's else."""

from __future__ import annotations

import time

import pytest

from harness import chiptime


class FakeClock:
    def __init__(self) -> None:
        self.ns = 0
        self.calls: list[tuple[str, float]] = []

    def now(self) -> int:
        return self.ns

    def sleep(self, ms: float) -> int:
        self.calls.append(("sleep", ms))
        self.ns += int(ms * 1e6)
        return int(ms * 1e6)

    def run_for(self, ms: float) -> int:
        self.calls.append(("run_for", ms))
        self.ns += int(ms * 1e6) + 3_000_000  # a few ms past the deadline, as QEMU's does
        return int(ms * 1e6) + 3_000_000


class FakeExecution:
    def __init__(self) -> None:
        self.is_halted = True
        self.log: list[str] = []

    def resume(self) -> None:
        self.is_halted = False
        self.log.append("resume")

    def halt(self) -> None:
        self.is_halted = True
        self.log.append("halt")


class FakeDut:
    def __init__(self, clock: FakeClock | None) -> None:
        self._clock = clock
        self.execution = FakeExecution()

    def has(self, capability: str) -> bool:
        return capability == "clock" and self._clock is not None

    @property
    def clock(self) -> FakeClock:
        assert self._clock is not None, "no clock: the helpers must not ask for it"
        return self._clock


def test_on_chip_time_the_helpers_use_the_chips_clock():
    clock = FakeClock()
    dut = FakeDut(clock)
    assert chiptime.on_chip_time(dut)
    watch = chiptime.Stopwatch(dut)
    assert watch.chip_time
    chiptime.wait(dut, 250)
    assert chiptime.hold(dut, 100) == 103_000_000
    assert clock.calls == [("sleep", 250), ("run_for", 100)]
    assert watch.elapsed_ms() == pytest.approx(353.0)
    watch.restart()
    assert watch.elapsed_ms() == 0


def test_running_lets_the_chip_run_inside_the_block_only():
    dut = FakeDut(FakeClock())
    with pytest.raises(RuntimeError), chiptime.running(dut):
        assert not dut.execution.is_halted
        raise RuntimeError("a failed step")
    assert dut.execution.log == ["resume", "halt"]  # halted again, even after a failure
    dut.execution.is_halted = False  # already running: not resumed twice
    with chiptime.running(dut):
        pass
    assert dut.execution.log == ["resume", "halt", "halt"]


def test_without_a_clock_they_fall_back_to_the_host_and_leave_the_chip_alone():
    dut = FakeDut(None)
    assert not chiptime.on_chip_time(dut)
    watch = chiptime.Stopwatch(dut)
    assert not watch.chip_time
    t0 = time.monotonic()
    chiptime.wait(dut, 30)
    assert chiptime.hold(dut, 20) == 20_000_000
    assert time.monotonic() - t0 >= 0.05
    assert watch.elapsed_ms() >= 50
    with chiptime.running(dut):
        pass
    assert dut.execution.log == []
