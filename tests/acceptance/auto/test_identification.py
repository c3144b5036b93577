"""Identification, sessions and TesterPresent."""

import time

import pytest

from harness import chiptime

from .conftest import DEFAULT, EXTENDED, PROGRAMMING, nrc, raw_request

pytestmark = [pytest.mark.targets("qsm-auto"), pytest.mark.requires("channels")]

S3_MS = 5000  # the session's timeout without TesterPresent (firmware/README.md)


def test_identification_dids_match_the_running_image(uds, dut):
    vin = uds.read_data_by_identifier_first(0xF190)
    assert len(vin) == 17 and vin.isalnum()
    serial = uds.read_data_by_identifier_first(0xF18C)
    assert serial.startswith("QSMA-")
    # several DIDs in one request, the variable-length one last
    values = uds.read_data_by_identifier([0xF18C, 0xF195]).service_data.values
    assert values[0xF18C] == serial
    assert values[0xF195] == dut.image.version.version == dut.running_version.version


def test_tester_present_answers_and_can_be_suppressed(uds):
    assert uds.tester_present().positive
    assert raw_request(uds, bytes([0x3E, 0x00])) == bytes([0x7E, 0x00])
    # suppressPosRspMsgIndicationBit: the ECU stays silent, and still serves the next request
    assert raw_request(uds, bytes([0x3E, 0x80]), timeout=0.3) is None
    assert raw_request(uds, bytes([0x3E, 0x01])) == bytes([0x7F, 0x3E, 0x12])
    assert raw_request(uds, bytes([0x3E])) == bytes([0x7F, 0x3E, 0x13])


def test_session_changes_and_programming_needs_extended_first(uds):
    assert uds.read_data_by_identifier_first(0xF186) == DEFAULT
    with nrc(0x22):
        uds.change_session(PROGRAMMING)
    rsp = uds.change_session(EXTENDED)
    assert rsp.service_data.session_echo == EXTENDED
    assert uds.read_data_by_identifier_first(0xF186) == EXTENDED
    uds.change_session(PROGRAMMING)
    assert uds.read_data_by_identifier_first(0xF186) == PROGRAMMING
    with nrc(0x12):
        uds.change_session(0x05)
    uds.change_session(DEFAULT)
    assert uds.read_data_by_identifier_first(0xF186) == DEFAULT


@pytest.mark.requires("symbols")
def test_s3_timeout_falls_back_to_default_unless_tester_present(uds, dut):
    # On chip time the ECU's 5 s S3 is what it is, and the chip holds between the test's
    # steps (the host's own delays cost it no chip time). On the host's time the firmware runs
    # its clock 10x (S3 lasts 0.5 s).
    scale = 1 if chiptime.on_chip_time(dut) else 10
    dut.symbols["stimulus.time_scale"] = scale
    uds.change_session(EXTENDED)
    for _ in range(10):                           # 10 s of ECU time kept alive by TesterPresent
        chiptime.hold(dut, 1000 / scale)          # every second (S3 is 5 s)
        with chiptime.running(dut):
            uds.tester_present()
    with chiptime.running(dut):
        assert uds.read_data_by_identifier_first(0xF186) == EXTENDED
    ran = chiptime.hold(dut, 0.9 * S3_MS / scale) / 1e6
    assert session_asked_before_it_runs(uds, dut) == EXTENDED  # 90 % of S3 later: still extended
    assert ran >= 0.9 * S3_MS / scale
    with chiptime.running(dut):
        dut.console.expect_exact("EVT session 1", timeout=2.0 if scale > 1 else 10.0)
        assert uds.read_data_by_identifier_first(0xF186) == DEFAULT
        # back in default: services of the extended session are refused again
        with nrc(0x7F):
            uds.request_seed(1)


def session_asked_before_it_runs(uds, dut) -> int:
    """The active session (DID 0xF186), the request sent while the chip holds (on chip time)
    and the chip let run only then: it waits in the chip's UART, so the host's delay in sending
    it (15-40x that in chip time on a loaded host) costs the session no time."""
    uds.conn.empty_rxqueue()
    uds.conn.send(bytes([0x22, 0xF1, 0x86]))
    layer, deadline = uds.conn.subconn.isotp_layer, time.monotonic() + 2.0
    while layer.transmitting() and time.monotonic() < deadline:  # out on the bus
        time.sleep(0.0005)
    with chiptime.running(dut):
        rsp = uds.conn.wait_frame(timeout=2.0, exception=True)
    assert rsp[:3] == bytes([0x62, 0xF1, 0x86]), f"DID 0xF186 answered {rsp.hex()}"
    return rsp[3]


def test_functional_addressing(uds_factory):
    functional = uds_factory(functional=True)
    assert functional.tester_present().positive
    # to a functional request, "service not supported" is not answered at all
    assert raw_request(functional, bytes([0xBA]), timeout=0.3) is None
