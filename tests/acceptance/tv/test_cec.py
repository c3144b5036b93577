"""The HDMI-CEC-like link on the second UART."""

import pytest

pytestmark = pytest.mark.targets("qsm-tv")


def _ask(cec, frame: str, answer: str):
    m = cec.mark()
    cec.sendline(frame)
    return cec.expect(answer, timeout=2.0, since=m).group(0)


def test_poll_is_acknowledged(cec):
    assert _ask(cec, "40", r"^ACK 40$") == "ACK 40"


def test_power_status_follows_power_state(cec, tv):
    assert _ask(cec, "40:8F", r"^04:90:..$") == "04:90:01"
    tv.power_on()
    assert _ask(cec, "40:8F", r"^04:90:..$") == "04:90:00"


def test_image_view_on_and_standby(cec, tv, dut):
    m = dut.console.mark()
    cec.sendline("40:04")
    dut.console.expect(r"^EVT power ON$", timeout=2.0, since=m)
    cec.sendline("4F:36")
    dut.console.expect(r"^EVT power STANDBY$", timeout=2.0, since=m)


def test_unknown_opcode_gets_feature_abort_and_junk_is_counted(cec, dut):
    assert _ask(cec, "40:C0", r"^04:00:.*$") == "04:00:C0:00"
    cec.sendline("not a frame")
    cec.sendline("45:8F")
    assert _ask(cec, "40:9F", r"^04:9E:..$") == "04:9E:05"
    assert dut.command("cec") == "rx=3 tx=2 errors=1 ignored=1"
