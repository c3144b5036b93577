"""Lockup is a state, not a crash: erase, reset and run of a blank chip through pyOCD's command
line leave QEMU alive and the chip usable; a QEMU that dies anyway is reported with its own
words, kept, and restarted behind the same probe id by the launcher."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from faultkit import WAIT, console, qemu_pids, read_until, run_dirs, wait_for

from harness.emu.process import sweep_stale_rundirs
from harness.emu.rsp import RspClient
from harness.probes import chips

pytestmark = pytest.mark.targets("qsm-washer")


def _ok(r: subprocess.CompletedProcess) -> str:
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    return out


def test_erase_chip_then_reset_leaves_a_locked_up_chip_that_flashes_again(env, chip, image):
    _ok(env.pyocd("flash", "-u", chip.uid, str(image.path)))
    pid = chip.proc.pid
    _ok(env.pyocd("erase", "--chip", "-u", chip.uid))
    _ok(env.pyocd("reset", "-u", chip.uid))
    out = _ok(env.pyocd("commander", "-u", chip.uid, "-c", "reset", "-c", "status",
                        "-c", "halt", "-c", "status", "-c", "read32 0x0 16"))
    assert re.search(r"Core 0 .*Lockup", out), out
    assert re.search(r"Core 0 .*Halted", out), out  # a halt request ends the lockup
    assert "ffffffff ffffffff ffffffff ffffffff" in out.lower(), out  # erased, and readable
    assert chip.proc.poll() is None and chip.proc.pid == pid, chip.exit_report()

    con = console(chip)  # the same chip takes a new image and boots it
    _ok(env.pyocd("flash", "-u", chip.uid, str(image.path)))
    assert b"READY" in read_until(con, b"READY\r\n")
    con.close()
    chip.close()
    assert env.leaks() == []


def test_reset_and_go_on_a_blank_chip_do_not_kill_qemu(env, chip):
    _ok(env.pyocd("reset", "-u", chip.uid))
    out = _ok(env.pyocd("commander", "-u", chip.uid, "-c", "go", "-c", "status",
                        "-c", "reset halt", "-c", "status"))
    assert re.search(r"Core 0 .*Lockup", out), out
    assert "Successfully halted device on reset" in out, out
    assert chip.proc.poll() is None, chip.exit_report()
    chip.close()
    assert env.leaks() == []


def _launcher(env, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "harness.probes.launch", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env.environ, stdin=subprocess.DEVNULL)


def _probe_id(launcher: subprocess.Popen) -> str:
    assert launcher.stdout is not None
    line = launcher.stdout.readline()
    assert line.startswith("probe "), line
    return line.split()[1]


def test_launcher_reports_a_qemu_lockup_keeps_its_log_and_restarts(env, tmp_path):
    logs = tmp_path / "logs"
    launcher = _launcher(env, "--log-dir", str(logs))
    try:
        uid = _probe_id(launcher)
        first = wait_for(lambda: qemu_pids(env.base), "the launcher's QEMU")
        # a lockup the probe cannot stop: a raw gdb client lets the blank core run
        rsp = RspClient.connect_unix(uid.removeprefix("qemu:"))
        rsp.cont()
        gdb_sock = Path(uid.removeprefix("qemu:"))
        wait_for(lambda: set(qemu_pids(env.base)) - set(first)
                 and chips.listening({str(gdb_sock)}),
                 "a restarted QEMU serving its gdbstub")
        rsp.close()
        out = env.pyocd("commander", "-u", uid, "-c", "status")  # the same probe id works
        assert out.returncode == 0 and "Core 0" in out.stdout, out.stdout + out.stderr
    finally:
        launcher.send_signal(signal.SIGTERM)
        _, err = launcher.communicate(timeout=WAIT)
    assert launcher.returncode == 0, err
    assert "RuntimeWarning" not in err, err
    assert "exited with signal SIGABRT" in err and "Lockup" in err, err
    assert "restarted QEMU behind the same probe id" in err, err
    kept = list(logs.glob("*.qemu.log"))
    assert len(kept) == 1 and "Lockup" in kept[0].read_text(), kept
    assert str(kept[0]) in err
    assert env.leaks() == []


def test_launcher_no_restart_exits_with_the_cause(env):
    launcher = _launcher(env, "--no-restart")
    try:
        uid = _probe_id(launcher)
        rsp = RspClient.connect_unix(uid.removeprefix("qemu:"))
        rsp.cont()
        _, err = launcher.communicate(timeout=WAIT)
        rsp.close()
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.communicate(timeout=WAIT)
    assert launcher.returncode == 1, err
    assert "Lockup" in err, err
    kept = re.search(r"QEMU's log kept at (\S+)", err)
    assert kept, err  # no log dir given: kept beside the run dir
    log = Path(kept.group(1))
    assert log.parent == env.base and "Lockup" in log.read_text()
    log.unlink()
    assert env.leaks() == []


def test_a_killed_launcher_takes_its_qemu_along_and_the_next_start_sweeps_its_dir(env, target):
    launcher = _launcher(env)
    _probe_id(launcher)
    wait_for(lambda: qemu_pids(env.base), "the launcher's QEMU")
    launcher.kill()
    launcher.communicate(timeout=WAIT)
    wait_for(lambda: not qemu_pids(env.base), "QEMU gone with its launcher")
    stale = run_dirs(env.base)
    assert len(stale) == 1  # killed: nobody removed it
    assert sweep_stale_rundirs() == stale
    served = chips.serve(target.qemu.machine)  # a next start sweeps too (nothing left now)
    assert run_dirs(env.base) == [served.rundir]
    served.close()
    assert env.leaks() == []
