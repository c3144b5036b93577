"""The washer's end-of-line steps that need the operator: fitting the harness cable, reading the
front panel, reading the line's mains meter. Answered on the panel (``harness station serve``),
on a terminal, or from ``--operator-answers tests/line/answers.yaml`` in CI."""

import pytest

pytestmark = pytest.mark.targets("qsm-washer")


def _status(dut) -> dict:
    return dict(kv.split("=", 1) for kv in dut.command("status").split())


def test_harness_cable_fitted(dut, operator):
    operator.confirm("Fit the harness cable to the motor connector X3, then press OK",
                     image="tests/line/washer/x3-connector.svg", name="harness-cable")
    st = _status(dut)
    assert (st["state"], st["door"]) == ("IDLE", "closed")


def test_door_lock_lamp_matches_the_controller(dut, operator):
    lamp = operator.choose("Door-lock lamp on the front panel: what do you see?",
                           ["off", "amber", "flashing amber"], name="door-lock-lamp")
    expected = "off" if _status(dut)["lock"] == "0" else "amber"
    assert lamp == expected, f"the controller drives the lamp {expected}, the operator saw {lamp}"


def test_mains_voltage_on_the_line_meter(operator):
    volts = operator.ask_number("Mains voltage shown on the line meter", "V", (207.0, 253.0),
                                name="mains-voltage")
    assert 207.0 <= volts <= 253.0
