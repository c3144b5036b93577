"""SecurityAccess, WriteDataByIdentifier and ECUReset."""

import time

import pytest
from udsoncan.services import ECUReset

from harness import chiptime, patience

from .conftest import EXTENDED, nrc, raw_request

pytestmark = [pytest.mark.targets("qsm-auto"), pytest.mark.requires("channels")]

NEW_VIN = "WQSMA0TEST0000042"
DELAY_MS = 10_000  # the lock-out after three wrong keys (firmware/README.md)


def test_vin_write_needs_extended_session_and_unlock(uds):
    with nrc(0x7F):
        uds.write_data_by_identifier(0xF190, NEW_VIN)
    uds.change_session(EXTENDED)
    with nrc(0x33):
        uds.write_data_by_identifier(0xF190, NEW_VIN)
    uds.unlock_security_access(1)
    uds.write_data_by_identifier(0xF190, NEW_VIN)
    assert uds.read_data_by_identifier_first(0xF190) == NEW_VIN
    # read-only and unknown identifiers, wrong lengths
    with nrc(0x31):
        uds.write_data_by_identifier(0xF18C, "QSMA-0000-000000")
    assert raw_request(uds, bytes([0x2E, 0xF1, 0x90]) + b"SHORT") == bytes([0x7F, 0x2E, 0x13])
    # leaving the session locks the ECU again
    uds.change_session(1)
    uds.change_session(EXTENDED)
    with nrc(0x33):
        uds.write_data_by_identifier(0xF190, NEW_VIN)


@pytest.mark.requires("symbols")
def test_wrong_keys_lock_out_for_the_delay(uds, dut):
    step = chiptime.running  # on chip time the chip holds between steps (S3 is only 5 s)
    with step(dut):
        uds.change_session(EXTENDED)
    with step(dut), nrc(0x24):                    # a key before any seed
        uds.send_key(2, b"\x00\x00\x00\x00")
    for _ in range(2):
        with step(dut):
            seed = uds.request_seed(1).service_data.seed
        assert int.from_bytes(seed, "big") != 0
        with step(dut), nrc(0x35):
            uds.send_key(2, b"\xde\xad\xbe\xef")
    with step(dut):
        uds.request_seed(1)
    with step(dut), nrc(0x36):                    # third wrong key: locked out
        uds.send_key(2, b"\xde\xad\xbe\xef")
    with step(dut), nrc(0x37):
        uds.request_seed(1)
    if chiptime.on_chip_time(dut):
        # the ECU's own 10 s delay: still on 9.5 s later, over 0.5 s after that
        chiptime.hold(dut, 0.95 * DELAY_MS)
        assert dut.symbols["uds.delay_active"], "the security delay ended early"
        chiptime.hold(dut, 0.05 * DELAY_MS + 10)
    else:
        dut.symbols["stimulus.time_scale"] = 100  # 10 s delay of ECU time in 0.1 s
        deadline = time.monotonic() + patience.limit(1.0)  # (S3 ends the session meanwhile)
        while dut.symbols["uds.delay_active"] and time.monotonic() < deadline:
            time.sleep(0.02)
    assert not dut.symbols["uds.delay_active"], "the security delay did not end"
    with step(dut):
        uds.change_session(EXTENDED)
        uds.unlock_security_access(1)
        seed = uds.request_seed(1).service_data.seed
    assert seed == b"\x00\x00\x00\x00"            # already unlocked: zero seed


def test_ecu_reset_restarts_the_chip_with_the_bus_open(uds, dut):
    uds.change_session(EXTENDED)
    mark = dut.console.mark()
    with nrc(0x12):
        uds.ecu_reset(ECUReset.ResetType.keyOffOnReset)
    rsp = uds.ecu_reset(ECUReset.ResetType.hardReset)
    assert rsp.positive
    dut.console.expect(r"^QSM boot product=auto", timeout=5.0, since=mark)
    dut.console.expect(r"^READY$", timeout=5.0, since=mark)
    # a fresh ECU: default session, answering on the same SLCAN link without re-opening it
    assert uds.read_data_by_identifier_first(0xF186) == 1
    assert "t=" in dut.command("status")
