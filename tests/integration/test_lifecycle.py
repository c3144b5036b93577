import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from harness.emu import process as qemu_process
from harness.errors import ConsoleTimeout, DutFault, FirmwareError, ToolMissing

pytestmark = pytest.mark.targets("qsm-washer")


def _children() -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid", str(os.getpid())],
                         capture_output=True, text=True).stdout
    return {int(line.split()[0]) for line in out.splitlines() if line.split()[1:] != ["ps"]}


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_boot_reports_version_of_the_elf(dut):
    assert dut.running_version == dut.image.version
    assert dut.command("version") == (
        f"product={dut.image.version.product} version={dut.image.version.version} "
        f"git={dut.image.version.git} build={dut.image.version.build}")
    assert dut.alive
    assert dut.capabilities >= {"memory", "execution", "console", "loader", "symbols"}


def test_junit_properties_carry_target_world_sha_and_version(dut, request):
    props = dict(request.node.user_properties)
    assert props["target"] == "qsm-washer"
    assert props["world"] == "qemu"
    assert props["firmware_sha256"] == dut.image.sha256
    assert props["firmware_version"] == str(dut.image.version)


def test_close_leaves_no_process_socket_or_fd(dut_factory):
    before_children, before_fds = _children(), _fds()
    d = dut_factory()
    rundir = d.backend.process.rundir
    pid = d.backend.pid
    assert pid in _children() and rundir.exists()
    assert any(p.suffix == ".sock" for p in rundir.iterdir())
    d.close()
    assert not rundir.exists()
    assert pid not in _children()
    assert _children() <= before_children
    assert _fds() == before_fds


def test_two_duts_at_once_are_independent(dut_factory):
    a, b = dut_factory(name="left"), dut_factory(name="right")
    assert a.backend.pid != b.backend.pid
    a.symbols["stimulus.plant_enabled"] = 0
    a.command("start cotton")
    assert "state=FILL" in a.command("status")
    assert "state=IDLE" in b.command("status")
    assert b.symbols["stimulus.plant_enabled"] == 1
    a.close()
    assert "state=IDLE" in b.command("status")


def test_console_timeout_on_halted_core_names_pattern_and_last_lines(dut):
    dut.execution.halt()
    with pytest.raises(ConsoleTimeout) as e:
        dut.console.command("status", timeout=0.2)
    msg = str(e.value)
    # the limit asked for, scaled by the machine's load (never shorter)
    waited = float(re.search(r"within ([0-9.]+) s", msg).group(1))
    assert waited >= 0.2 and "READY" in msg and "qsm-washer/shell" in msg
    dut.execution.resume()
    # the line sent while halted is answered once the core runs again
    dut.console.expect(r"^OK state=", timeout=2)


def test_firmware_fault_report_is_the_failure(dut):
    with pytest.raises(DutFault) as e:
        dut.command("crash")
    msg = str(e.value)
    assert "HARDFAULT pc=0x" in msg and "cfsr=0x00010000" in msg  # UNDEFINSTR


def test_version_mismatch_between_chip_and_elf_is_an_error(dut, tmp_path):
    from harness.dut import Dut
    from harness.firmware import load_image

    raw = bytearray(dut.image.path.read_bytes())
    at = raw.find(b"QSMV")
    assert at > 0
    raw[at + 6] ^= 0x01  # patch level differs
    other = tmp_path / "other.elf"
    other.write_bytes(bytes(raw))
    liar = Dut(target=dut.target, image=load_image(other, "fw_version"), world="qemu",
               backend=dut.backend, memory=dut.memory, execution=dut.execution,
               consoles=dut.consoles)
    with pytest.raises(FirmwareError, match="the chip runs washer 1.3.0 .* but the ELF"):
        liar.check_version()


def test_missing_qemu_names_the_apt_package(monkeypatch, tmp_path, target):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissing, match="apt-get install.*qemu-system-arm"):
        qemu_process.start(target, None, "x")


def test_bad_machine_is_an_error_with_qemu_message(target, monkeypatch):
    rundir = Path(tempfile.mkdtemp(prefix="h", dir="/tmp"))
    monkeypatch.setenv("HARNESS_RUNDIR", str(rundir))
    bad = target.model_copy(update={"qemu": target.qemu.model_copy(update={"machine": "nope"})})
    with pytest.raises(Exception, match="(?s)exited with code 1 at start-up.*unsupported machine"):
        qemu_process.start(bad, None, "bad")
    assert list(rundir.iterdir()) == []  # nothing left behind by the failed start
    rundir.rmdir()


def test_raw_uart_channel_is_a_loopback_tcp_url(target, harness_manager):
    """A ``raw`` UART (e.g. SLCAN) is served by QEMU on an ephemeral port, Nagle off."""
    import socket

    from harness.backends.qemu import open_dut

    consoles = dict(target.consoles)
    consoles["can"] = consoles["shell"].model_copy(update={"uart": 1, "kind": "raw"})
    t = target.model_copy(update={"consoles": consoles})
    dut = open_dut(t, harness_manager.image(target))  # built when stale, like any test's
    try:
        assert "channels" in dut.capabilities
        assert dut.console.name.endswith("/shell")
        url = dut.channels["can"]
        assert url.startswith("socket://127.0.0.1:")
        host, port = url[len("socket://"):].split(":")
        socket.create_connection((host, int(port)), timeout=2).close()
        assert dut.command("status").startswith("state=IDLE")
    finally:
        dut.close()
