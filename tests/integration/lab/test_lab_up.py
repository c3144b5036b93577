"""`harness lab up/status/down` with real processes: a labgrid coordinator, two exporter hosts
of two emulated benches each (QEMU behind the qemu: probe, pyocd server, the console on a pty
that the exporter serves with ser2net once the place is acquired)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("labgrid")
pytest.importorskip("pyocd")
if shutil.which("ser2net") is None and not Path("/usr/sbin/ser2net").exists():
    pytest.skip("ser2net is not installed (apt-get install ser2net)", allow_module_level=True)

from harness import patience  # noqa: E402
from harness.lab.client import LabClient  # noqa: E402
from harness.lab.procs import gone, port_open, tree  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
CPUID_M3 = "410fc231"
UART0_DR, UART0_FR = 0x4000C000, 0x4000C018
RXFE = 1 << 4


def harness(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=patience.limit(120))
    if check:
        assert proc.returncode == 0, f"harness {' '.join(args)}:\n{proc.stdout}{proc.stderr}"
    return proc


def commander(port: int, *commands: str) -> str:
    argv = [sys.executable, "-m", "pyocd", "commander", "-u", f"remote:127.0.0.1:{port}",
            "-t", "cortex_m"]
    for c in commands:
        argv += ["-c", c]
    proc = subprocess.run(argv, text=True, capture_output=True, timeout=patience.limit(60))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def word(output: str, address: int) -> int:
    """The value of ``read32 address`` in pyocd commander's output."""
    for line in output.splitlines():
        head, _, rest = line.partition(":")
        if head.strip() == f"{address:08x}":
            return int(rest.split()[0], 16)
    raise AssertionError(f"no read of {address:#x} in:\n{output}")


@pytest.fixture
def lab_dir(tmp_path):
    directory = tmp_path / "lab"
    yield directory
    # whatever the test did, nothing of the lab outlives it
    harness("lab", "down", "--dir", str(directory), check=False)


def test_status_without_a_coordinator_exits_2(tmp_path):
    from harness.lab.procs import free_port

    proc = harness("lab", "status", "--lab", f"127.0.0.1:{free_port()}", check=False)
    assert proc.returncode == 2
    assert "no labgrid coordinator answers at 127.0.0.1:" in proc.stderr
    proc = harness("lab", "status", "--dir", str(tmp_path), check=False)
    assert proc.returncode == 2 and "no lab in" in proc.stderr


def test_lab_up_acquire_release_down(lab_dir):
    up = harness("lab", "up", "2", "--benches", "2", "--dir", str(lab_dir))
    state = json.loads((lab_dir / "lab.json").read_text())
    address = state["coordinator"]
    assert f"coordinator {address}" in up.stdout
    names = [f"bench-{h}-{b}" for h in (1, 2) for b in (1, 2)]
    for name in names:
        assert name in up.stdout
    # every process of the lab and what it started, for the leftovers check at the end
    pids = [p for proc in state["procs"] for p in tree(proc["pid"])]
    ports = [int(address.rpartition(":")[2])] + [b["pyocd_port"] for b in state["benches"]]

    _second_up_refuses(lab_dir)
    _places_and_status(lab_dir, address, names)
    ports.append(_acquire_and_use(address, "bench-2-1"))

    down = harness("lab", "down", "--dir", str(lab_dir))
    assert down.stdout.count("stopped ") == len(state["procs"])
    assert not (lab_dir / "lab.json").exists()
    deadline = time.monotonic() + patience.limit("process_exit")
    while not all(gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p for p in pids if not gone(p)] == []
    assert [p for p in ports if port_open(p)] == []
    for bench in state["benches"]:  # the launcher held the pty: it is gone with it
        assert not Path(bench["console"]).exists() or not _held(bench["console"])
    again = harness("lab", "down", "--dir", str(lab_dir))
    assert "no lab in" in again.stdout


def _held(pty: str) -> bool:
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            for fd in fd_dir.iterdir():
                if str(fd.readlink()) == pty:
                    return True
        except OSError:
            continue
    return False


def _second_up_refuses(lab_dir: Path) -> None:
    again = harness("lab", "up", "1", "--benches", "1", "--dir", str(lab_dir), check=False)
    assert again.returncode == 2
    assert f"a lab is already running in {lab_dir}" in again.stderr


def _places_and_status(lab_dir: Path, address: str, names: list[str]) -> None:
    with LabClient(address) as client:
        places = client.places
        assert sorted(places) == names
        for name in names:
            host, bench = name.split("-")[1:]
            assert places[name].tags == {"chip": "qsm-washer", "product": "qsm-washer",
                                         "host": f"host-{host}", "bench": bench}
    status = harness("lab", "status", "--dir", str(lab_dir)).stdout
    assert f"coordinator {address}: 4 places, 0 reservations" in status
    for name in names:
        line = next(x for x in status.splitlines() if x.strip().startswith(name))
        assert "free" in line and "chip=qsm-washer" in line and "host=host-" in line


def _acquire_and_use(address: str, name: str) -> int:
    """Acquire ``name``, use its probe and console, release it; returns ser2net's port."""
    import serial

    with LabClient(address) as client:
        before = {r.name: r for r in client.resources(name)}
        assert before["console"].cls == "NetworkSerialPort"
        assert before["console"].params["port"] is None  # no ser2net while free
        visa = {n: r.params for n, r in before.items() if r.cls == "VISAResource"}
        assert sorted(visa) == ["counter", "dmm", "psu"], before
        assert all(v["kind"] == n and v["resource"].startswith("TCPIP::127.0.0.1::")
                   for n, v in visa.items()), visa
        assert visa["psu"]["channel"] == 1 and visa["psu"]["max_voltage"] == 13.2
        client.acquire(name)
        try:
            console = client.wait(
                lambda: next((r for r in client.resources(name)
                              if r.name == "console" and r.params["port"]), None),
                patience.limit("process_start"), f"ser2net for {name}'s console")
            probe = next(r for r in client.resources(name) if r.name == "probe")
            assert probe.cls == "PyOCDServer" and probe.acquired == name
            assert probe.params["host"] == "127.0.0.1"
            assert probe.params["uid"].startswith("qemu:")
            assert isinstance(probe.params["port"], int)
            status = harness("lab", "status", "--lab", address).stdout
            assert any(line.strip().startswith(name) and "acquired by" in line
                       for line in status.splitlines())

            port = probe.params["port"]
            assert CPUID_M3 in commander(port, "read32 0xE000ED00")
            # the console: RFC 2217 through ser2net to the pty to the chip's UART0. The chip
            # is halted and blank, so the byte is looked for in UART0's receive register.
            host, ser2net_port = console.params["host"], console.params["port"]
            link = serial.serial_for_url(f"rfc2217://{host}:{ser2net_port}?ign_set_control",
                                         timeout=patience.limit("console"))
            try:
                link.write(b"Z")
                link.flush()
                deadline = time.monotonic() + patience.limit("console")
                while True:
                    out = commander(port, f"read32 {UART0_FR:#x}")
                    if not word(out, UART0_FR) & RXFE or time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
                assert not word(out, UART0_FR) & RXFE, "the byte did not reach UART0"
                assert word(commander(port, f"read32 {UART0_DR:#x}"), UART0_DR) & 0xFF == 0x5A
            finally:
                link.close()
        finally:
            client.release(name)
        client.wait(lambda: all(r.params.get("port") is None for r in client.resources(name)
                                if r.name == "console"),
                    patience.limit("process_exit"), f"ser2net for {name} stopped on release")
        assert not client.places[name].acquired
    return int(ser2net_port)


def test_two_labs_started_at_once_get_ports_of_their_own(tmp_path):
    """Every server of a lab binds port 0 and says which port it got: two ``lab up`` at the
    same instant cannot reach for the same port, and each coordinator knows its own bench."""
    dirs = [tmp_path / "lab-a", tmp_path / "lab-b"]
    ups = [subprocess.Popen([sys.executable, "-m", "harness", "lab", "up", "1", "--benches", "1",
                             "--dir", str(d)], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT) for d in dirs]
    try:
        outs = [up.communicate(timeout=patience.limit(120))[0] for up in ups]
        assert [up.returncode for up in ups] == [0, 0], outs
        states = [json.loads((d / "lab.json").read_text()) for d in dirs]
        coordinators = [s["coordinator"] for s in states]
        probes = [s["benches"][0]["pyocd_port"] for s in states]
        assert len(set(coordinators)) == 2 and len(set(probes)) == 2, (coordinators, probes)
        for state, out in zip(states, outs, strict=True):
            assert f"coordinator {state['coordinator']}" in out
            with LabClient(state["coordinator"]) as client:
                assert sorted(client.places) == ["bench-1-1"]
                probe = next(r for r in client.resources("bench-1-1") if r.name == "probe")
                # this lab's own pyocd server, behind this lab's own coordinator
                assert probe.params["port"] == state["benches"][0]["pyocd_port"]
                assert probe.params["uid"] == state["benches"][0]["probe"]
            assert port_open(state["benches"][0]["pyocd_port"])
    finally:
        for up in ups:
            if up.poll() is None:
                up.kill()
                up.wait()
        for d in dirs:
            harness("lab", "down", "--dir", str(d), check=False)
