"""QSM-A acceptance suite: the car body module, through UDS (udsoncan over ISO-TP over SLCAN)
and plain CAN frames. World-agnostic: a world without the chip's CAN channel skips; tests
that inject faults through the stimulus block also ask for ``symbols``."""

from __future__ import annotations

import contextlib

import pytest

# Contract of firmware/README.md, QSM-A section.
BODY_CMD, CRASH, STATUS = 0x2A0, 0x050, 0x3A0
DTC_LAMP_OPEN, DTC_WINDOW_STALL, DTC_LOW_VOLTAGE = 0x900113, 0x900271, 0x056216
SELF_TEST = 0x0203
DEFAULT, PROGRAMMING, EXTENDED = 1, 2, 3


@contextlib.contextmanager
def nrc(code: int):
    """The request inside must be refused with negative response ``code``."""
    from udsoncan.exceptions import NegativeResponseException

    with pytest.raises(NegativeResponseException) as info:
        yield info
    got = info.value.response.code
    assert got == code, f"expected NRC 0x{code:02X}, got 0x{got:02X}"


def raw_request(uds, payload: bytes, timeout: float = 1.0) -> bytes | None:
    """Send bytes as they are (no udsoncan checks); the answer, or None when none comes."""
    from udsoncan.exceptions import TimeoutException

    uds.conn.empty_rxqueue()
    uds.conn.send(payload)
    try:
        return uds.conn.wait_frame(timeout=timeout, exception=True)
    except TimeoutException:
        return None


def body(uds) -> dict[str, int]:
    """DID 0xD001: the body state as the ECU reports it."""
    values = uds.read_data_by_identifier_first(0xD001)
    return dict(zip(("lights", "locked", "window", "crash", "pinch", "battery_mv"), values,
                    strict=True))


def dtcs(uds, mask: int = 0x09) -> dict[int, int]:
    """DTCs matching ``mask``: {code: status byte}."""
    rsp = uds.get_dtc_by_status_mask(mask)
    return {d.id: d.status.get_byte_as_int() for d in rsp.service_data.dtcs}
