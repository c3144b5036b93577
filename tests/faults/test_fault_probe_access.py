"""The ``qemu:`` probe as pyOCD's tools meet it: one debugger at a time (a busy probe says who
holds it, at once), a probe that cannot be reached fails within a bound naming what was tried,
the System Control Space reads the same through every access path, and ``pyocd gdbserver
--persist`` serves several gdb sessions one after another."""

from __future__ import annotations

import os
import re
import socket
import subprocess

import pytest
from faultkit import WAIT, GdbServer, console, read_until

from harness.probes.qemu_probe import ProbeBusy, ProbeUnreachable, QemuProbe

pytestmark = pytest.mark.targets("qsm-washer")
CPUID, AIRCR = 0xE000ED00, 0xE000ED0C


def _session(uid: str):
    from pyocd.core.helpers import ConnectHelper

    session = ConnectHelper.session_with_chosen_probe(unique_id=uid, blocking=False,
                                                      return_first=True, auto_open=False)
    assert session is not None
    session.open()
    return session


def test_a_second_client_is_told_the_probe_is_busy_and_by_whom(env, chip):
    server = GdbServer(env, chip.uid)
    try:
        r = env.pyocd("commander", "-u", chip.uid, "-c", "status")
        out = r.stdout + r.stderr
        assert r.returncode != 0, out
        assert f"probe {chip.uid} is busy (held by pid {server.proc.pid}" in out, out
        assert "not acknowledged" not in out, out
    finally:
        server.stop()
    r = env.pyocd("commander", "-u", chip.uid, "-c", "status")  # released with its holder
    assert r.returncode == 0 and "Core 0" in r.stdout, r.stdout + r.stderr
    chip.close()
    assert env.leaks() == []


def test_busy_in_process_names_this_pid_and_frees_on_close(env, chip):
    session = _session(chip.uid)
    try:
        second = QemuProbe(chip.uid.removeprefix("qemu:"))
        with pytest.raises(ProbeBusy, match=rf"is busy \(held by pid {os.getpid()}\b"):
            second.open()
        assert not second.is_open
    finally:
        session.close()
    again = _session(chip.uid)
    assert again.target.read32(CPUID) == 0x410FC231
    again.close()
    chip.close()
    assert env.leaks() == []


def test_an_unreachable_probe_fails_naming_it_and_what_was_tried(env):
    gone = f"qemu:{env.base}/qsm-probe-gone1234/gdb.sock"
    r = env.pyocd("commander", "-u", gone, "-c", "status", timeout=WAIT)  # bounded: no wait
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert f"no debug probe with unique id '{gone}'; available: none; tried" in out, out
    assert "does not exist" in out, out
    assert "Waiting for a debug probe" not in out, out

    stale = env.base / "dead.sock"  # a socket file nobody listens on (QEMU SIGKILLed)
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(stale))
    s.close()
    probe = QemuProbe(str(stale))
    with pytest.raises(ProbeUnreachable, match=r"tried .*dead\.sock: connecting to it failed"):
        probe.open()
    stale.unlink()
    assert env.leaks() == []


def test_scs_reads_the_same_through_commander_and_the_python_api(env, chip, image):
    session = _session(chip.uid)
    try:
        api = {a: session.target.read32(a) for a in (CPUID, AIRCR)}
        bytes8 = session.target.read_memory_block8(CPUID, 4)
        half = session.target.read16(CPUID + 2)
    finally:
        session.close()
    assert api[CPUID] == 0x410FC231 and api[AIRCR] & 0xFFFF0000 == 0xFA050000, api
    assert int.from_bytes(bytes(bytes8), "little") == api[CPUID]
    assert half == api[CPUID] >> 16
    r = env.pyocd("commander", "-u", chip.uid, "-c", f"read32 {CPUID:#x}",
                  "-c", f"read32 {AIRCR:#x}", "-c", f"read8 {CPUID:#x} 4")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    words = re.findall(r"^e000ed0[0c]:\s+([0-9a-f]{8})\b", r.stdout, re.M)
    assert [int(w, 16) for w in words] == [api[CPUID], api[AIRCR]], out
    assert re.search(r"e000ed00:\s+31 c2 0f 41", r.stdout), out
    chip.close()
    assert env.leaks() == []


def test_gdbserver_persist_serves_sequential_gdb_sessions(env, chip, image, gdb):
    r = env.pyocd("flash", "-u", chip.uid, str(image.path))
    assert r.returncode == 0, r.stderr
    main = image.symbol("main").address & ~1
    server = GdbServer(env, chip.uid, "--persist")
    con = console(chip)
    try:
        for n in range(3):
            g = subprocess.run(
                [gdb, "-batch", "-nx", str(image.path),
                 # gdb gives a reply 2 s by default: too short on a loaded machine
                 "-ex", f"set remotetimeout {WAIT:.0f}",
                 "-ex", f"target remote 127.0.0.1:{server.port}", "-ex", "monitor reset halt",
                 "-ex", "break main", "-ex", "continue", "-ex", "info registers pc",
                 "-ex", "delete", "-ex", "detach"],
                capture_output=True, text=True, timeout=WAIT, stdin=subprocess.DEVNULL)
            out = g.stdout + g.stderr
            assert re.search(r"Breakpoint 1, (0x\w+ in )?main", out), f"session {n}:\n{out}"
            assert re.search(rf"pc\s+0x{main:x}", out), f"session {n}:\n{out}"
            assert server.proc.poll() is None, f"gdbserver exited after session {n}"
            assert b"READY" in read_until(con, b"READY\r\n")  # detached: the image runs on
    finally:
        con.close()
        code = server.stop()
    assert code in (0, -2), "".join(server.log)
    chip.close()
    assert env.leaks() == []
