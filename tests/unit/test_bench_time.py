"""The emulated bench on chip time: an instrument's integration time or gate passes in the chip's
time where the Dut has a clock (ending at the latest after as much host time), and what settles
on the board follows whichever clock moved more. A fake Dut with a clock of known speed."""

from __future__ import annotations

import time

import pytest

from harness.instruments.virtual.coupling import DutSignals, Settling


class FakeClock:
    """Chip time that moves ``per_read`` ns at each reading (0: a halted chip), or as set."""

    def __init__(self, per_read: int = 0) -> None:
        self.per_read, self.ns, self.reads = per_read, 0, 0

    def now(self) -> int:
        self.ns += self.per_read
        self.reads += 1
        return self.ns


class NoSymbols(dict):
    def address(self, name: str) -> int:
        raise KeyError(name)


class FakeImage:
    def symbol(self, name: str):
        raise KeyError(name)


class FakeDut:
    name = "fake"
    alive = True

    def __init__(self, clock: FakeClock | None) -> None:
        self.clock = clock
        self.symbols = NoSymbols()
        self.image = FakeImage()

    def has(self, capability: str) -> bool:
        return capability == "clock" and self.clock is not None


def took(fn) -> float:
    t0 = time.monotonic()
    fn()
    return time.monotonic() - t0


def test_a_wait_on_a_running_chip_ends_when_the_chip_had_its_time():
    clock = FakeClock(per_read=1_000_000_000)  # a second of chip time between two readings
    signals = DutSignals(FakeDut(clock))
    before = clock.reads
    signals.wait(5.0)
    assert clock.reads - before == 6          # the start, then five seconds: not the host's 5 s


def test_a_wait_on_a_halted_chip_ends_after_the_hosts_time():
    clock = FakeClock()
    signals = DutSignals(FakeDut(clock))
    assert took(lambda: signals.wait(0.2)) >= 0.2 and clock.reads > 1


def test_without_a_chip_clock_a_wait_is_the_hosts():
    signals = DutSignals(FakeDut(None))
    assert took(lambda: signals.wait(0.1)) >= 0.1


def test_the_bench_clock_moves_by_the_clock_that_moved_more():
    clock = FakeClock()
    signals = DutSignals(FakeDut(clock))
    t0 = signals.bench_time()
    clock.ns += 1_000_000_000                 # a second of chip time in no host time
    t1 = signals.bench_time()
    assert t1 - t0 >= 1.0
    time.sleep(0.05)                          # the chip halted: the host's time counts
    assert signals.bench_time() - t1 >= 0.05


def test_settling_follows_the_time_it_is_given():
    s = Settling(tau=0.015, value=0.0)
    t = s._t
    assert s(1.0, t + 0.015) == pytest.approx(1 - 1 / 2.718281828, rel=1e-3)  # one tau
    assert s(1.0, t + 0.3) == pytest.approx(1.0, abs=1e-6)                    # settled
    assert s(0.0, t + 0.2) == pytest.approx(1.0, abs=1e-6)  # time never runs backwards


def test_the_next_duts_bench_clock_goes_on_from_the_last_ones():
    """One test's chip ran its bench clock far ahead of the host's; the next test's Dut does
    not start behind it (a settling value would stand still until the host caught up)."""
    ahead = FakeClock()
    first = DutSignals(FakeDut(ahead))
    first.bench_time()
    ahead.ns += 30_000_000_000                  # 30 s of chip time
    left_at = first.bench_time()
    second = DutSignals(FakeDut(FakeClock()))
    assert second.bench_time() >= left_at
