"""Malformed SLCAN and ISO-TP input never crashes the firmware nor hangs the harness."""

import time

import pytest

from harness import patience

pytestmark = [pytest.mark.targets("qsm-auto"), pytest.mark.requires("channels", "symbols")]

TESTER_PRESENT = b"t7E03023E00\r"           # ISO-TP single frame: 3E 00
TP_ANSWER = b"t7E88027E00CCCCCCCCCC\r"


def assert_tester_present(raw_can) -> None:
    raw_can.send(TESTER_PRESENT)
    raw_can.until(TP_ANSWER)


@pytest.mark.parametrize("line", [
    b"t7E0",                         # no dlc
    b"t7E02",                        # dlc 2, no data
    b"t7E023E",                      # dlc 2, one byte
    b"t7E023E0000",                  # dlc 2, three bytes
    b"t7E093E00000000000000000000",  # dlc 9
    b"t8000",                        # 11-bit id out of range
    b"t7G02AABB",                    # not hex
    b"T123",                         # short extended frame
    b"X",                            # unknown command
    b"S9",                           # bit rate while open
    b"O1",                           # trailing garbage
    b"t" + b"A" * 200,               # far longer than any line
    bytes(range(1, 10)) + bytes(range(14, 255)),  # binary noise without CR or LF
], ids=lambda b: b[:12].decode("latin-1").encode("unicode_escape").decode())
def test_bad_slcan_lines_are_refused_with_bell(dut, raw_can, line):
    before = dut.symbols["diag_counters.slcan_errors"]
    raw_can.send(line + b"\r")
    raw_can.until(b"\a")
    assert_tester_present(raw_can)
    assert dut.symbols["diag_counters.slcan_errors"] == before + 1
    assert "HARDFAULT" not in "".join(dut.console.last_lines(20))


def test_flood_of_bytes_is_survived(dut, raw_can):
    """64 KiB of frames, overlong lines and noise as fast as the socket takes them."""
    chunk = (TESTER_PRESENT * 20 + b"t7E0" + b"F" * 60 + b"\r" + bytes(range(256))) * 8
    sent = 0
    while sent < 64 * 1024:
        raw_can.send(chunk)
        sent += len(chunk)
    raw_can.send(b"\rV\r")
    raw_can.until(b"V1013\r", timeout=60.0)   # answered only once everything before was read
    assert_tester_present(raw_can)
    assert "bus=open" in dut.command("status")
    assert dut.symbols["diag_counters.slcan_errors"] > 0
    assert dut.symbols["diag_counters.uds_requests"] > 0


def frame(payload: bytes) -> bytes:
    return b"t7E0%d%s\r" % (len(payload), payload.hex().upper().encode())


@pytest.mark.parametrize("payload", [
    bytes([0x00, 0x3E, 0x00]),                 # single frame of length 0
    bytes([0x05, 0x3E, 0x00]),                 # single frame longer than its CAN frame
    bytes([0x10, 0x04, 1, 2, 3, 4, 5, 6]),     # first frame shorter than 8
    bytes([0x10, 0x14, 0x2E, 0xF1]),           # first frame with a short CAN frame
    bytes([0x21, 1, 2, 3, 4, 5, 6, 7]),        # consecutive frame out of nowhere
    bytes([0x30, 0x00, 0x00]),                 # flow control nobody waits for
    bytes([0x40, 0x00]),                       # reserved PCI type
])
def test_malformed_isotp_frames_are_ignored(dut, raw_can, payload):
    before = dut.symbols["diag_counters.uds_requests"]
    raw_can.send(frame(payload))
    raw_can.until(b"z\r")
    assert_tester_present(raw_can)
    assert dut.symbols["diag_counters.uds_requests"] == before + 1   # only TesterPresent


def test_out_of_order_consecutive_frame_aborts_the_message(dut, raw_can):
    vin_write = bytes([0x2E, 0xF1, 0x90]) + b"WQSMA0TEST0000042"   # 20 bytes: FF + 2 CF
    raw_can.send(frame(bytes([0x10, len(vin_write)]) + vin_write[:6]))
    raw_can.until(b"t7E8830")                                         # flow control: go on
    raw_can.send(frame(bytes([0x22]) + vin_write[13:20]))             # SN 2 where 1 is due
    raw_can.send(frame(bytes([0x21]) + vin_write[6:13]))              # too late now
    assert_tester_present(raw_can)
    assert dut.symbols["diag_counters.isotp_errors"] >= 1
    assert dut.symbols["diag_counters.uds_requests"] == 1


def test_oversized_first_frame_gets_overflow_flow_control(dut, raw_can):
    raw_can.send(frame(bytes([0x1F, 0xFF, 0x2E, 0xF1, 0x90, 0, 0, 0])))  # 4095 bytes
    answer = raw_can.until(b"\r", timeout=2.0)
    while not answer.startswith(b"t7E8"):
        answer = raw_can.until(b"\r", timeout=2.0)
    assert answer.startswith(b"t7E8832")                              # FC overflow
    assert dut.symbols["diag_counters.isotp_overflows"] == 1
    assert_tester_present(raw_can)


def test_abandoned_message_times_out(dut, raw_can):
    raw_can.send(frame(bytes([0x10, 0x14, 0x2E, 0xF1, 0x90, 0x41, 0x42, 0x43])))
    raw_can.until(b"t7E8830")
    dut.console.expect_exact("READY", since=0)
    # N_Cr is 1 s of the chip's time, which a busy host stretches: wait for the chip to count
    # it (and no longer than the machine's load makes 1.5 s)
    deadline = time.monotonic() + patience.limit(1.5)
    while dut.symbols["diag_counters.isotp_timeouts"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dut.symbols["diag_counters.isotp_timeouts"] == 1
    assert_tester_present(raw_can)


def test_a_silent_ecu_times_out_in_udsoncan_not_forever(uds, dut):
    """The harness side: a request the ECU does not answer ends in udsoncan's timeout."""
    from udsoncan.exceptions import TimeoutException

    dut.execution.halt()
    try:
        with pytest.raises(TimeoutException):
            uds.tester_present()
    finally:
        dut.execution.resume()
    assert uds.tester_present().positive
