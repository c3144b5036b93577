"""Chip time's parts that need no QEMU: the migration stream's icount, the icount argument, and
which targets and settings can have it."""

from __future__ import annotations

import dataclasses
import os
import struct

import pytest

from harness.backends.qemu_world import QemuWorld, chip_time_problems, chip_timed
from harness.emu.process import qemu_version
from harness.emu.vclock import NoChipClock, icount_of, icount_shift
from harness.errors import ProtocolError
from harness.settings import RunSettings


def _stream(bias: int, count: int) -> bytes:
    sub = bytes((0x05, 12)) + b"timer/icount" + struct.pack(">I", 1)
    return b"QEVM\0\0\0\3" + b"\x04junk" * 3 + sub + struct.pack(">qq", bias, count) + b"\x1f"


def test_icount_is_read_from_the_timer_subsection():
    assert icount_of(_stream(123_456_789, 42)) == (123_456_789, 42)


def test_a_stream_without_icount_or_cut_short_is_refused():
    with pytest.raises(NoChipClock, match="without -icount"):
        icount_of(b"QEVM\0\0\0\3" + b"timer/icount")  # the name alone is not the subsection
    with pytest.raises(ProtocolError, match="ends inside"):
        icount_of(_stream(1, 2)[:-12])


@pytest.mark.parametrize(("argv", "shift"), [
    (["-M", "x", "-icount", "shift=4,sleep=off"], 4),
    (["-icount", "sleep=off,shift=7"], 7),
    (["-icount", "shift=auto"], None),
    (["-M", "x"], None),
])
def test_the_shift_comes_from_the_icount_argument(argv, shift):
    assert icount_shift(argv) == shift


@pytest.fixture
def settings(tmp_path):
    return RunSettings(root=tmp_path, targets_dir=tmp_path, results=tmp_path, world="qemu")


def test_chip_time_adds_icount_with_the_boards_shift_and_the_clock(settings, harness_manager):
    target = harness_manager.target("qsm-tv")
    assert settings.chip_time == "auto"  # the default
    on = dataclasses.replace(settings, chip_time="on")
    off = dataclasses.replace(settings, chip_time="off")
    assert chip_timed(target, off) is target  # off: untouched
    for mode in (on, settings):
        timed = chip_timed(target, mode)
        assert timed.qemu.extra_args[-2:] == ["-icount", "shift=3,sleep=off"]
        assert "clock" in QemuWorld().capabilities_for(mode, target)
    assert target.qemu.extra_args == harness_manager.target("qsm-tv").qemu.extra_args
    assert "clock" in QemuWorld().capabilities_for(on)
    assert "clock" not in QemuWorld().capabilities_for(off, target)
    assert "clock" not in QemuWorld().capabilities_for(settings)  # auto: which target?
    assert chip_time_problems(target, on) == []


def test_chip_time_is_refused_on_boards_without_a_shift_and_goes_with_snapshots(
        settings, harness_manager):
    target = harness_manager.target("qsm-washer")
    bare = target.model_copy(update={"board": None})
    on = dataclasses.replace(settings, chip_time="on")
    auto = dataclasses.replace(settings, chip_time="auto")
    assert any("chip_time_shift" in p for p in chip_time_problems(bare, on))
    world = QemuWorld()
    assert world.check(bare, on)  # on: refused
    # auto: it runs on the host's time, without a word against it
    assert chip_timed(bare, auto) is bare
    assert world.check(bare, auto) == []
    # reading the clock leaves QEMU's snapshot drive alone (tests/integration/test_snapshot_pool)
    snap = dataclasses.replace(on, dut_reuse="snapshot")
    assert chip_time_problems(target, snap) == [] and world.check(target, snap) == []
    assert "clock" in world.capabilities_for(snap, target)


def test_chip_time_is_refused_on_a_qemu_that_loses_timer_interrupts(settings, harness_manager,
                                                                    tmp_path, monkeypatch):
    old = tmp_path / "qemu-system-arm"  # a QEMU that says it is Debian 12's own 7.2
    old.write_text("#!/bin/sh\n"
                   "echo 'QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)'\n")
    old.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    qemu_version.cache_clear()
    try:
        assert qemu_version() == (7, 2)
        on = dataclasses.replace(settings, chip_time="on")
        washer = harness_manager.target("qsm-washer")
        [problem] = chip_time_problems(washer, on)
        assert "needs QEMU 10.0 or later, and 7.2 is installed" in problem
        assert "--chip-time off" in problem
        auto = dataclasses.replace(settings, chip_time="auto")
        assert chip_timed(washer, auto) is washer  # auto: the host's time
    finally:
        qemu_version.cache_clear()
