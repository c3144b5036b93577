"""Shell contract: version, AV state with limits, interlocks while not on."""

import pytest

from harness.errors import CommandError

pytestmark = pytest.mark.targets("qsm-tv")


def test_version_matches_the_elf(dut):
    v = dut.image.version
    assert dut.command("version") == (f"product={v.product} version={v.version} "
                                      f"git={v.git} build={v.build}")
    assert v.product == "tv"


@pytest.mark.parametrize("cmd", ["volume 20", "channel 5", "mute on", "input HDMI1"])
def test_av_commands_refused_in_standby(dut, cmd):
    with pytest.raises(CommandError) as e:
        dut.command(cmd)
    assert (e.value.code, e.value.text) == (4, "standby")


def test_channel_and_volume_limits(tv, dut):
    tv.power_on()
    assert dut.command("channel 99") == "channel 99"
    assert dut.command("channel up") == "channel 1"
    for bad in ("channel 0", "channel 100", "volume 61", "volume -1", "volume loud"):
        with pytest.raises(CommandError) as e:
            dut.command(bad)
        assert e.value.code == 2, bad
    assert dut.command("volume 60") == "volume 60"
    assert dut.command("volume up") == "volume 60"
    st = tv.status()
    assert (st["channel"], st["volume"]) == (1, 60)


def test_input_sources_and_mute(tv, dut):
    tv.power_on()
    assert dut.command("input HDMI3") == "input HDMI3"
    with pytest.raises(CommandError) as e:
        dut.command("input VGA")
    assert e.value.code == 2
    assert dut.command("mute on") == "mute 1"
    assert tv.status()["mute"] == 1 and tv.status()["input"] == "HDMI3"
    assert dut.command("volume up") == "volume 16"
    assert tv.status()["mute"] == 0
