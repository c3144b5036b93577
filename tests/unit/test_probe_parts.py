"""The qemu: probe's DP/AP model, unique ids and board detection (no emulator)."""

import pytest

from harness.errors import HarnessError
from harness.probes import boards, coresight
from harness.probes.qemu_probe import QemuProbe, _parse


def test_dp_ap_identify_as_swd_dp_with_ahb_ap():
    dp = coresight.DebugPortModel()
    assert dp.read_dp(coresight.DP_IDR_ABORT) == 0x2BA01477
    dp.write_dp(coresight.DP_CTRL_STAT, coresight.CDBGPWRUPREQ | coresight.CSYSPWRUPREQ)
    cs = dp.read_dp(coresight.DP_CTRL_STAT)
    assert cs & coresight.CDBGPWRUPACK and cs & coresight.CSYSPWRUPACK
    assert cs & coresight.CDBGPWRUPREQ  # requests kept (pyOCD checks them after a reset)
    assert dp.read_ap(0xFC) == 0x24770011 and dp.read_ap(0xF8) == 0xE00FF003
    assert dp.read_ap(1 << 24 | 0xFC) == 0  # no AP #1: ends the scan
    dp.write_ap(0x00, 0x23000012)
    assert dp.read_ap(0x00) & 0xFF == 0x52  # size kept, DeviceEn set


def test_component_ids_encode_arm_designer():
    words = coresight.component_id_words(0x003, coresight.CLASS_GENERIC)
    pidr = sum(words[0xFE0 + 4 * i] << 8 * i for i in range(4)) | words[0xFD0] << 32
    assert pidr & 0xFFF == 0x003
    assert (pidr >> 12 & 0x7F) | (pidr >> 32 & 0xF) << 8 == 0x43B


@pytest.mark.parametrize("uid, kind", [
    ("auto", "auto"), ("auto:lm3s811evb", "auto"), ("/tmp/x/gdb.sock", "unix"),
    ("127.0.0.1:1234", "tcp")])
def test_unique_ids(uid, kind):
    assert _parse(uid)[0] == kind


def test_unusable_unique_ids_are_refused():
    with pytest.raises(HarnessError, match="only loopback"):
        _parse("10.0.0.1:1234")
    with pytest.raises(HarnessError, match="not a probe id"):
        _parse("banana")
    assert QemuProbe.get_probe_with_id("/nonexistent/gdb.sock", True) is None


MTREE = """FlatView #2
 AS "cpu-memory-0", root: armv7m-container
  0000000000000000-000000000003ffff (prio 0, rom): stellaris.flash
  0000000020000000-000000002000ffff (prio 0, ram): stellaris.sram
  000000004000c000-000000004000cfff (prio 0, i/o): pl011
"""


def test_board_detected_from_qemu_memory_tree():
    spec = boards.detect(MTREE)
    assert spec.machine == "lm3s6965evb" and spec.target_type == "qemu_lm3s6965evb"
    with pytest.raises(HarnessError, match="known: lm3s6965evb"):
        boards.detect(MTREE.replace("3ffff", "fffff"))


def test_target_classes_registered_with_pyocd():
    from pyocd.target import TARGET

    boards.register_targets()
    cls = TARGET["qemu_lm3s6965evb"]
    flash = next(iter(cls.MEMORY_MAP.iter_matching_regions(name="flash")))
    assert (flash.start, flash.length, flash.is_boot_memory) == (0, 0x40000, True)
