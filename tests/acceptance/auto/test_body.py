"""Body logic through command frames and the periodic status frame."""

import time

import pytest

from harness import chiptime

from .conftest import BODY_CMD, CRASH, STATUS, body

pytestmark = [pytest.mark.targets("qsm-auto"), pytest.mark.requires("channels")]


def _settled(monitor, quiet: float = 0.1) -> int:
    """The monitor's mark once no frame came for ``quiet`` s (the chip is halted: what it sent
    has arrived)."""
    mark = monitor.mark()
    while True:
        time.sleep(quiet)
        if monitor.mark() == mark:
            return mark
        mark = monitor.mark()


def test_status_frame_every_100_ms(dut, can_monitor):
    first = can_monitor.wait_for(STATUS, timeout=1.0)
    if chiptime.on_chip_time(dut):
        # counted between two halts of the chip: what it sent in 2 s of its own time,
        # whatever the host's latency
        dut.execution.halt()
        start = _settled(can_monitor)
        ran = dut.clock.run_for(2000) / 1e9
        frames = can_monitor.frames(STATUS, since=start)[:_settled(can_monitor) - start]
        period = ran / len(frames)
        dut.execution.resume()
    else:
        start = can_monitor.mark()
        last = can_monitor.wait_for(STATUS, lambda f: f.data[7] == (first.data[7] + 10) % 256,
                                    timeout=3.0)
        frames = [f for f in can_monitor.frames(STATUS, since=start - 1) if f.at <= last.at]
        period = (last.at - first.at) / 10
    counters = [f.data[7] for f in frames]
    assert counters == [(counters[0] + i) % 256 for i in range(len(counters))]
    assert 0.09 < period < 0.11 if chiptime.on_chip_time(dut) else 0.05 < period < 0.2, \
        f"status period {period * 1000:.1f} ms"
    assert first.data[4:6] == (126).to_bytes(2, "big")           # 12.6 V


def test_lights_and_central_locking_commands(uds, can_monitor):
    can_monitor.send(BODY_CMD, bytes([0x01, 0x03]))              # low + high beam
    can_monitor.send(BODY_CMD, bytes([0x02, 0x01]))              # lock
    frame = can_monitor.wait_for(STATUS, lambda f: f.data[0] == 0x03 and f.data[1] == 1)
    assert frame.data[3] & 0x01 == 0                             # no crash
    assert body(uds)["lights"] == 0x03 and body(uds)["locked"] == 1
    can_monitor.send(BODY_CMD, bytes([0x01, 0x08]))              # no such lamp: ignored
    can_monitor.send(BODY_CMD, bytes([0x02, 0x00]))              # unlock
    can_monitor.wait_for(STATUS, lambda f: f.data[1] == 0)
    assert body(uds)["lights"] == 0x03


def test_crash_unlocks_switches_hazards_on_and_blocks_locking(uds, dut, can_monitor):
    can_monitor.send(BODY_CMD, bytes([0x02, 0x01]))
    can_monitor.wait_for(STATUS, lambda f: f.data[1] == 1)
    can_monitor.send(CRASH, bytes([0x00]))                       # not a deployment
    can_monitor.send(CRASH, bytes([0xC5]))
    dut.console.expect_exact("EVT crash", timeout=2.0)
    frame = can_monitor.wait_for(STATUS, lambda f: f.data[3] & 0x01)
    assert frame.data[1] == 0 and frame.data[0] & 0x04           # unlocked, hazards on
    can_monitor.send(BODY_CMD, bytes([0x02, 0x01]))              # lock refused after a crash
    assert body(uds)["locked"] == 0 and body(uds)["crash"] == 1


def test_window_moves_to_the_commanded_position(uds, can_monitor):
    can_monitor.send(BODY_CMD, bytes([0x03, 40]))
    can_monitor.wait_for(STATUS, lambda f: f.data[2] == 40 and not f.data[3] & 0x02,
                         timeout=3.0)
    assert body(uds)["window"] == 40


@pytest.mark.requires("symbols")
def test_window_anti_pinch_reverses(uds, dut, can_monitor):
    dut.symbols["stimulus.window_obstacle"] = 60
    can_monitor.send(BODY_CMD, bytes([0x03, 100]))               # close
    dut.console.expect_exact("EVT pinch", timeout=3.0)
    can_monitor.wait_for(STATUS, lambda f: not f.data[3] & 0x02, timeout=3.0)
    state = body(uds)
    assert state["pinch"] == 1
    assert state["window"] == 60 - 25                            # backed off 25 %
