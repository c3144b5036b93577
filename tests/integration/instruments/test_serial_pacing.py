"""A virtual instrument on a serial port (a pty, reached through pyvisa-py and pyserial) moves
bytes at the speed the line is set to, as an RS-232 cable does: compared as a ratio of times
per byte between a slow and a fast line, never against a wall-clock limit."""

from __future__ import annotations

import time

import pytest

from harness.bench import Instrument, SerialSettings
from harness.instruments.drivers import open_instrument
from harness.instruments.scpi import ScpiSession, resource_manager
from harness.instruments.virtual.lab import VirtualLab
from harness.instruments.virtual.server import PtyServer, line_settings
from harness.instruments.virtual.supplies import RigolDP832

from .conftest import LIMITS

QUERY = ";".join(["*IDN?"] * 6)  # ~270 bytes of answer: the line's time, not the host's


def seconds_per_byte(baud: int, runs: int = 3) -> float:
    """Best of ``runs`` times for QUERY and its answer, per byte that crossed the line."""
    with PtyServer(RigolDP832()) as server:
        session = ScpiSession(server.resource, timeout_ms=10_000, serial={"baud_rate": baud})
        try:
            answer = session.query(QUERY)
            crossed = len(QUERY) + 1 + len(answer) + 1  # with their line terminations
            best = float("inf")
            for _ in range(runs):
                started = time.perf_counter()
                assert session.query(QUERY) == answer
                best = min(best, time.perf_counter() - started)
        finally:
            session.close()
    return best / crossed


def test_a_slow_line_paces_bytes_as_its_baud_rate_says():
    slow, fast = seconds_per_byte(9600), seconds_per_byte(115200)
    # a character is 10 bits at 8N1: ~1.04 ms at 9600 baud, ~87 us at 115200 (ratio 12)
    # never faster than the line (a busy host only makes either slower: no ratio is asserted)
    said = f"9600 baud: {slow * 1e3:.3f} ms per byte, 115200 baud: {fast * 1e3:.3f} ms per byte"
    assert slow >= 0.99 * 10 / 9600, said
    assert fast >= 0.99 * 10 / 115200, said


def test_the_line_speed_and_frame_are_the_clients():
    from pyvisa import constants

    with PtyServer(RigolDP832()) as server:
        # (a pty here refuses parity and other data bits than 8: tcsetattr fails with EINVAL)
        for frame, bits in ((dict(stop_bits=constants.StopBits.two), 1 + 8 + 2),
                            (dict(stop_bits=constants.StopBits.one), 1 + 8 + 1)):
            res = resource_manager().open_resource(server.resource, baud_rate=19200, **frame)
            try:
                assert line_settings(server._slave) == (19200, bits)
                assert server.byte_time() == pytest.approx(bits / 19200)
            finally:
                res.close()
    with PtyServer(RigolDP832(), baud_rate=115200) as fixed:  # the instrument's own setting
        res = resource_manager().open_resource(fixed.resource, baud_rate=9600)
        try:
            assert fixed.byte_time() == pytest.approx(10 / 115200)
        finally:
            res.close()


@pytest.mark.parametrize("baud", [9600, 115200])
def test_the_bench_inventorys_baud_rate_reaches_the_line(baud):
    inst = Instrument(name="psu-serial", kind="psu", resource="virtual-asrl:rigol-dp832",
                      channels=LIMITS, serial=SerialSettings(baud_rate=baud))
    lab = VirtualLab()
    try:
        psu = open_instrument(inst, lab.resource(inst))
        try:
            assert lab.servers[inst.name].byte_time() == pytest.approx(10 / baud)
            psu.apply(2, 5.0, 0.5)
            assert psu.session.query(":APPL? CH2") == "CH2,5.000,0.5000"
        finally:
            psu.close()
    finally:
        lab.close()
