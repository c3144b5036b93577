"""Identification, sessions and TesterPresent."""

import time

import pytest

from .conftest import DEFAULT, EXTENDED, PROGRAMMING, nrc, raw_request

pytestmark = [pytest.mark.targets("qsm-auto"), pytest.mark.requires("channels")]


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
    dut.symbols["stimulus.time_scale"] = 10       # S3 (5 s of ECU time) lasts 0.5 s here:
    uds.change_session(EXTENDED)                  # 5 TesterPresent periods, for a busy host
    for _ in range(10):                           # 1 s kept alive by TesterPresent
        time.sleep(0.1)
        uds.tester_present()
    assert uds.read_data_by_identifier_first(0xF186) == EXTENDED
    dut.console.expect_exact("EVT session 1", timeout=2.0)
    assert uds.read_data_by_identifier_first(0xF186) == DEFAULT
    # back in default: services of the extended session are refused again
    with nrc(0x7F):
        uds.request_seed(1)


def test_functional_addressing(uds_factory):
    functional = uds_factory(functional=True)
    assert functional.tester_present().positive
    # to a functional request, "service not supported" is not answered at all
    assert raw_request(functional, bytes([0xBA]), timeout=0.3) is None
