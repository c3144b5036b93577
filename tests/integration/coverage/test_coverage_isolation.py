"""A reused chip's counters start at zero: the pools' reset clears them by itself.

The coverage plugin zeroes counters after reading them, but a reused chip must not depend on
it: a test that leaves counts behind (and nobody reads them) hands its chip back to the pool,
and the next chip — halted at the reset vector — has every counter at zero, like a chip from
a brand-new process; its whole memory matches that fresh chip's too (pool_proof), and after
its boot only the boot's lines have counts.
"""

from __future__ import annotations

import pytest

from harness import worlds
from harness.testing.pool_proof import differences, snapshot

from .conftest import WORLDS, open_chip, world_settings

pytestmark = pytest.mark.targets("qsm-washer")


def _of(function: str, image, reader, counts: list[int]) -> list[int]:
    """The counts of one function (its counter array is the ELF symbol __gcov0.<name>)."""
    address = image.symbols[f"__gcov0.{function}"].address
    _, n, index = next(a for a in reader.inst.arrays if a[0] == address)
    return counts[index:index + n]


@pytest.mark.parametrize("world", WORLDS)
def test_a_reused_chip_starts_with_every_counter_at_zero(world, washer, coverage_image,
                                                         reader, harness_settings):
    fresh = open_chip(world, washer, coverage_image, harness_settings, f"fresh-{world}",
                      boot=False)
    try:
        assert not any(reader.read(fresh.memory, fresh.execution, zero=False).counts)
        reference = snapshot(fresh)
    finally:
        fresh.close()
    pool = worlds.get(world).pool(washer, coverage_image, world_settings(harness_settings,
                                                                          world))
    assert pool is not None
    try:
        messy = pool.acquire()
        for cmd in ("faults", "status", "help", "door"):
            messy.command(cmd)
        left = reader.read(messy.memory, messy.execution, zero=False).counts
        assert sum(left) > 0
        messy.close()  # back to the pool with its counts
        again = pool.acquire(boot=False)
        try:
            assert pool.stats["reused"] == 1
            assert not any(reader.read(again.memory, again.execution, zero=False).counts)
            problems = differences(snapshot(again), reference)
            assert not problems, "\n".join(problems)
            again.boot()
            booted = reader.read(again.memory, again.execution, zero=False).counts
            assert any(_of("main", coverage_image, reader, booted))
            for handler in ("cmd_faults", "cmd_status", "cmd_door"):
                assert any(_of(handler, coverage_image, reader, left))
                assert not any(_of(handler, coverage_image, reader, booted))
        finally:
            again.close()
    finally:
        pool.close()
