"""Settings survive a warm reset (.noinit RAM with a CRC) and are rejected when corrupt."""

import pytest

pytestmark = pytest.mark.targets("qsm-tv")


def _set_up(tv, dut):
    tv.power_on()
    dut.command("channel 42")
    dut.command("volume 33")
    dut.command("input HDMI2")


def test_shell_reset_keeps_settings(tv, dut):
    _set_up(tv, dut)
    m = dut.console.mark()
    assert dut.command("reset") == "reset"
    dut.console.expect(r"^READY$", timeout=5.0, since=m)
    st = tv.status()
    assert st["power"] == "STANDBY" and st["settings"] == "restored"
    assert (st["channel"], st["volume"], st["input"]) == (42, 33, "HDMI2")


@pytest.mark.requires("execution")
def test_debugger_reset_keeps_settings(tv, dut):
    _set_up(tv, dut)
    dut.reset()
    st = tv.status()
    assert st["settings"] == "restored"
    assert (st["channel"], st["volume"], st["input"]) == (42, 33, "HDMI2")


@pytest.mark.requires("execution", "symbols")
def test_corrupt_settings_fall_back_to_defaults(tv, dut):
    _set_up(tv, dut)
    addr = dut.symbols.address("tv_settings.volume")
    dut.memory.write_u8(addr, dut.memory.read_u8(addr) ^ 0x01)   # one bit flipped
    dut.reset()
    st = tv.status()
    assert st["settings"] == "corrupt"
    assert (st["channel"], st["volume"], st["input"]) == (1, 15, "TUNER")
    s = dut.symbols["tv_settings"]
    assert s["magic"] == 0x53565451 and s["volume"] == 15
