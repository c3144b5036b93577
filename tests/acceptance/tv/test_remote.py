"""IR remote: NEC frames replayed from captured timings through the stimulus block."""

import pytest

from .conftest import KEYS, REMOTE, REPEAT, nec_frame

pytestmark = [pytest.mark.targets("qsm-tv"), pytest.mark.requires("symbols")]


def test_power_key_turns_tv_on(tv, dut):
    m = dut.console.mark()
    assert tv.key("POWER") == "EVT ir key POWER"
    dut.console.expect(r"^EVT power ON$", timeout=2.0, since=m)
    assert tv.status()["power"] == "ON"


def test_held_volume_key_repeats(tv):
    tv.power_on()
    assert tv.key("VOL_UP") == "EVT ir key VOL_UP"
    assert tv.ir(REPEAT, gap_us=40_000) == "EVT ir repeat VOL_UP"
    assert tv.ir(REPEAT, gap_us=96_000) == "EVT ir repeat VOL_UP"
    assert tv.status()["volume"] == 18
    assert tv.dut.symbols["ir_status"]["repeats"] == 2


def _stretched(pulses, index, factor):
    out = list(pulses)
    out[index] = int(out[index] * factor)
    return out


FRAME = nec_frame(REMOTE, KEYS["VOL_UP"])


@pytest.mark.parametrize("pulses, reason", [
    (_stretched(FRAME, 0, 0.75), "lead_mark"),
    (_stretched(FRAME, 1, 1.3), "lead_space"),
    (_stretched(FRAME, 20, 1.5), "bit_mark"),
    (_stretched(FRAME, 21, 1.95), "bit_space"),
    (FRAME[:-1], "length"),
    (FRAME + [563, 563], "length"),
    (nec_frame(REMOTE, 0x02)[:50] + [563, 563] * 8 + [563], "check"),
], ids=["short-leader", "long-leader-space", "long-bit-mark", "bad-bit-space", "truncated",
        "overlong", "bad-inverse"])
def test_malformed_frames_are_rejected(tv, pulses, reason):
    tv.power_on()
    line = tv.ir(pulses)
    assert line.startswith(f"EVT ir reject {reason} ")
    st = tv.status()
    assert st["volume"] == 15 and st["power"] == "ON"
    assert tv.dut.symbols["ir_status"]["rejected"] == 1


def test_repeat_without_recent_frame_is_rejected(tv):
    tv.power_on()
    assert tv.ir(REPEAT, gap_us=40_000) == "EVT ir reject orphan_repeat at=0"
    assert tv.key("VOL_DOWN") == "EVT ir key VOL_DOWN"
    assert tv.ir(REPEAT, gap_us=150_000) == "EVT ir reject orphan_repeat at=0"
    assert tv.status()["volume"] == 14


def test_other_remotes_are_ignored(tv):
    tv.power_on()
    line = tv.ir(nec_frame(0x07, KEYS["POWER"]))
    assert line == "EVT ir foreign address=0x0007 command=0x08"
    assert tv.status()["power"] == "ON"
    assert tv.dut.command("ir") == "frames=0 repeats=0 rejected=0 foreign=1 last=frame"
