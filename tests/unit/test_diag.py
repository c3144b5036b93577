"""Unit tests of harness/diag: profiles, codecs, the frame monitor (fake notifier and bus)."""

import subprocess
import sys
import threading

import pytest

from harness.diag.client import client_config
from harness.diag.monitor import FrameMonitor
from harness.diag.profiles import QSM_A, profile_for, qsm_a_key
from harness.errors import ConfigError


def test_qsm_a_key_matches_the_firmware_vectors():
    # the same vectors as firmware/auto/tests/test_uds.c (seedkey.known_vector...)
    assert qsm_a_key(1, bytes.fromhex("12345678")) == bytes.fromhex("d08b499e")
    assert qsm_a_key(1, bytes(4)) == bytes.fromhex("32d8090d")
    with pytest.raises(ValueError, match="level 3"):
        qsm_a_key(3, bytes(4))


def test_unknown_target_has_no_profile_and_says_where_to_add_one():
    with pytest.raises(ConfigError, match="qsm-washer.*harness/diag/profiles.py"):
        profile_for("qsm-washer")
    assert profile_for("qsm-auto") is QSM_A


def test_codecs_decode_fixed_variable_and_struct_dids():
    cfg = client_config(QSM_A, timeout_factor=2.0)
    codecs = cfg["data_identifiers"]
    assert codecs[0xF190].decode(b"WQSMA000000000001") == "WQSMA000000000001"
    assert len(codecs[0xF190]) == 17
    assert codecs[0xF195].decode(b"1.0.0") == "1.0.0"
    assert codecs[0xF186].decode(b"\x03") == 3            # one field: the value itself
    assert codecs[0xD001].decode(bytes([1, 1, 40, 0, 2, 0x31, 0x38])) == (1, 1, 40, 0, 2,
                                                                          12600)
    assert cfg["security_algo"](1, b"\x12\x34\x56\x78") == bytes.fromhex("d08b499e")
    assert cfg["request_timeout"] == 10.0 and cfg["use_server_timing"] is False


class FakeNotifier:
    def __init__(self):
        self.listeners = []

    def add_listener(self, fn):
        self.listeners.append(fn)

    def remove_listener(self, fn):
        self.listeners.remove(fn)


class FakeMsg:
    def __init__(self, can_id, data):
        self.arbitration_id, self.data = can_id, data
        self.is_error_frame = self.is_remote_frame = False


def test_monitor_waits_for_a_matching_frame_and_detaches():
    notifier = FakeNotifier()
    mon = FrameMonitor(bus=None, notifier=notifier)
    listener = notifier.listeners[0]
    listener(FakeMsg(0x3A0, b"\x00"))
    mark = mon.mark()
    threading.Timer(0.05, listener, (FakeMsg(0x3A0, b"\x01"),)).start()
    assert mon.wait_for(0x3A0, lambda f: f.data == b"\x01", timeout=2.0).data == b"\x01"
    assert [f.data for f in mon.frames(0x3A0, since=mark)] == [b"\x01"]
    with pytest.raises(AssertionError, match="0x3A0.*last one: 01"):
        mon.wait_for(0x3A0, lambda f: f.data == b"\x02", timeout=0.05)
    mon.close()
    assert notifier.listeners == []


def test_plugin_module_imports_no_can_stack():
    code = ("import sys, harness.diag.pytest_plugin; "
            "print(sorted({'can', 'isotp', 'udsoncan'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
