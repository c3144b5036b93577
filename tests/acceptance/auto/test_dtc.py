"""DTCs raised by stimulus faults, ReadDTCInformation, ClearDiagnosticInformation, self-test."""

import pytest

from .conftest import (
    BODY_CMD,
    DTC_LAMP_OPEN,
    DTC_LOW_VOLTAGE,
    DTC_WINDOW_STALL,
    EXTENDED,
    SELF_TEST,
    dtcs,
    nrc,
    raw_request,
)

pytestmark = [pytest.mark.targets("qsm-auto"), pytest.mark.requires("channels")]


def test_no_dtcs_on_a_healthy_module(uds):
    assert dtcs(uds) == {}
    assert uds.get_number_of_dtc_by_status_mask(0x09).service_data.dtc_count == 0
    supported = uds.get_supported_dtc().service_data.dtcs
    assert {d.id for d in supported} == {DTC_LAMP_OPEN, DTC_WINDOW_STALL, DTC_LOW_VOLTAGE}


@pytest.mark.requires("symbols")
def test_lamp_open_and_low_voltage_raise_dtcs_until_cleared(uds, dut, can_monitor):
    dut.symbols["stimulus.lamp_open"] = 1
    can_monitor.send(BODY_CMD, bytes([0x01, 0x01]))          # low beam on
    dut.console.expect_exact(f"EVT dtc {DTC_LAMP_OPEN:06x}", timeout=2.0)
    dut.symbols["stimulus.battery_mv"] = 8200
    dut.console.expect_exact(f"EVT dtc {DTC_LOW_VOLTAGE:06x}", timeout=2.0)
    active = dtcs(uds)
    assert set(active) == {DTC_LAMP_OPEN, DTC_LOW_VOLTAGE}
    assert all(status & 0x09 == 0x09 for status in active.values())  # failed + confirmed
    assert uds.get_number_of_dtc_by_status_mask(0x01).service_data.dtc_count == 2
    # repaired: testFailed clears, confirmed stays until ClearDiagnosticInformation
    dut.symbols["stimulus.lamp_open"] = 0
    dut.symbols["stimulus.battery_mv"] = 12600
    can_monitor.wait_for(0x3A0, lambda f: not f.data[3] & 0x04, timeout=2.0)
    assert dtcs(uds, 0x01) == {}
    assert set(dtcs(uds, 0x08)) == {DTC_LAMP_OPEN, DTC_LOW_VOLTAGE}
    with nrc(0x31):
        uds.clear_dtc(0x123456)
    uds.clear_dtc(0xFFFFFF)
    assert dtcs(uds, 0x0B) == {}


@pytest.mark.requires("symbols")
def test_window_motor_stall_stops_the_motor_and_raises_a_dtc(uds, dut, can_monitor):
    dut.symbols["stimulus.window_stall"] = 1
    can_monitor.send(BODY_CMD, bytes([0x03, 100]))           # close the window
    dut.console.expect_exact(f"EVT dtc {DTC_WINDOW_STALL:06x}", timeout=2.0)
    assert DTC_WINDOW_STALL in dtcs(uds)
    status = can_monitor.wait_for(0x3A0, timeout=1.0)
    assert status.data[3] & 0x02 == 0                        # motor stopped


@pytest.mark.requires("symbols")
def test_self_test_routine(uds, dut):
    with nrc(0x7F):
        uds.start_routine(SELF_TEST)
    uds.change_session(EXTENDED)
    with nrc(0x24):
        uds.get_routine_result(SELF_TEST)
    with nrc(0x31):
        uds.start_routine(0x0F0F)
    with nrc(0x12):
        uds.stop_routine(SELF_TEST)
    uds.start_routine(SELF_TEST)
    assert uds.get_routine_result(SELF_TEST).service_data.routine_status_record == b"\x00\x00"
    dut.symbols["stimulus.lamp_open"] = 1
    uds.start_routine(SELF_TEST)
    assert uds.get_routine_result(SELF_TEST).service_data.routine_status_record == b"\x01\x01"


def test_negative_responses_for_malformed_requests(uds):
    assert raw_request(uds, bytes([0xBA])) == bytes([0x7F, 0xBA, 0x11])      # no such service
    assert raw_request(uds, bytes([0x22, 0xF1])) == bytes([0x7F, 0x22, 0x13])  # half a DID
    assert raw_request(uds, bytes([0x22, 0x12, 0x34])) == bytes([0x7F, 0x22, 0x31])
    assert raw_request(uds, bytes([0x19, 0x42])) == bytes([0x7F, 0x19, 0x12])
    assert raw_request(uds, bytes([0x14, 0xFF, 0xFF])) == bytes([0x7F, 0x14, 0x13])
    assert raw_request(uds, bytes([0x10, 0x03, 0x00])) == bytes([0x7F, 0x10, 0x13])
    assert uds.tester_present().positive
