"""The lab's parts that need no coordinator: tags, a place as a bench inventory, the guard
that keeps labgrid's own pytest plugin out of harness runs."""

from __future__ import annotations

import socket
import types

import pytest

from harness.bench import Bench
from harness.extras import keep_labgrid_plugin_off
from harness.lab.acquire import LabError, Place, parse_tags
from harness.lab.client import PlaceResource
from harness.lab.inventory import inventory


def test_tags_parse_and_bad_pairs_are_named():
    assert parse_tags("chip=qsm-washer, psu=1") == {"chip": "qsm-washer", "psu": "1"}
    for bad in ("", "chip", "Chip=x", "chip=a b", "chip=x,=1"):
        with pytest.raises(ValueError, match="--lab-tags"):
            parse_tags(bad)


def _res(cls: str, params: dict) -> PlaceResource:
    return PlaceResource("host-2", "bench-2-1", cls, "", params, True, None)


def _place(**resources: PlaceResource) -> Place:
    return Place("bench-2-1", {"chip": "qsm-washer", "host": "host-2"}, dict(resources))


PROBE = _res("PyOCDServer", {"host": "10.0.0.7", "port": 5555, "uid": "x"})
CONSOLE = _res("NetworkSerialPort", {"host": "10.0.0.7", "port": 40001, "speed": 115200})


def test_a_place_is_a_one_slot_bench_of_the_pyocd_world():
    inv = inventory(_place(probe=PROBE, console=CONSOLE), "lab:20408")
    bench = Bench.model_validate(inv)
    (probe,) = bench.probes
    assert probe.uid == "remote:10.0.0.7:5555" and probe.slot == 1
    assert probe.console == "rfc2217://10.0.0.7:40001?ign_set_control"
    assert "place=bench-2-1" in probe.tags and "lab:20408" in bench.description


def test_a_places_instruments_become_the_benchs_with_the_supply_channel():
    psu = _res("VISAResource", {"kind": "psu", "resource": "TCPIP::10.0.0.7::5025::SOCKET",
                                "channel": 1, "voltage": 12.0, "current_limit": 1.0,
                                "max_voltage": 13.2, "max_current": 1.2})
    dmm = _res("VISAResource", {"kind": "dmm", "resource": "TCPIP::10.0.0.8::inst0::INSTR"})
    place = _place(probe=PROBE, console=CONSOLE)
    place.resources.update({"psu": psu, "dmm": dmm})
    bench = Bench.model_validate(inventory(place, "lab"))
    by_kind = {i.kind: i for i in bench.instruments}
    assert by_kind["dmm"].resource == "TCPIP::10.0.0.8::inst0::INSTR"
    assert by_kind["psu"].slot == 1 and set(by_kind["psu"].channels) == {1}
    ch = by_kind["psu"].channels[1]
    assert (ch.voltage, ch.current_limit, ch.max_voltage, ch.max_current) == (12.0, 1.0, 13.2,
                                                                               1.2)


def test_an_instrument_without_a_resource_is_refused_by_name():
    place = _place(probe=PROBE, console=CONSOLE)
    place.resources["psu"] = _res("VISAResource", {"kind": "psu"})
    with pytest.raises(LabError, match="bench-2-1: instrument psu has no resource"):
        inventory(place, "lab")


def test_a_place_without_a_probe_or_a_live_console_is_refused_by_name():
    with pytest.raises(LabError, match="bench-2-1: no PyOCDServer"):
        inventory(_place(console=CONSOLE), "lab")
    idle = _res("NetworkSerialPort", {"host": "h", "port": None})
    with pytest.raises(LabError, match="console has no port"):
        inventory(_place(probe=PROBE, console=idle), "lab")


class _Manager:
    def __init__(self, registered: bool) -> None:
        self.plugins = {"labgrid": object()} if registered else {}
        self.blocked: set[str] = set()

    def get_plugin(self, name):
        return self.plugins.get(name)

    def unregister(self, plugin, name):
        del self.plugins[name]

    def set_blocked(self, name):
        self.blocked.add(name)


@pytest.mark.parametrize("registered", [True, False])
def test_labgrids_plugin_is_kept_off_unless_asked_for(registered, monkeypatch):
    monkeypatch.delenv("LG_ENV", raising=False)
    pm = _Manager(registered)
    assert keep_labgrid_plugin_off(pm, argv=["pytest", "-n", "2"])  # type: ignore[arg-type]
    assert pm.plugins == {} and pm.blocked == {"labgrid"}
    pm = _Manager(registered)
    assert not keep_labgrid_plugin_off(pm, argv=["pytest", "--lg-env=env.yaml"])  # type: ignore[arg-type]
    assert pm.blocked == set()


def test_a_servers_port_is_read_from_what_it_printed(tmp_path):
    from harness.lab.coordinator import LISTENING
    from harness.lab.emulated import SERVING
    from harness.lab.procs import printed_port

    log = tmp_path / "server.log"
    assert printed_port(log, LISTENING) is None  # no log yet: not listening yet
    log.write_text("INFO:root:loaded 0 place(s)\nINFO:root:Coordinator ready\n")
    assert printed_port(log, LISTENING) is None
    log.write_text(log.read_text() + "listening on 127.0.0.1:41234\n")
    assert printed_port(log, LISTENING) == 41234
    log.write_text("0000476 I Serving debug probe QEMU gdbstub probe (qemu:/tmp/q/gdb.sock) "
                   "on port 46727 [tcp_probe_server]\n")
    assert printed_port(log, SERVING) == 46727


@pytest.mark.skipif(not hasattr(socket, "TCP_QUICKACK"), reason="TCP_QUICKACK is Linux's")
def test_a_network_consoles_reader_asks_for_a_quick_ack_before_every_read():
    """ser2net sends with Nagle's algorithm on: a reply in two segments waited for the
    reader's delayed ACK (40 ms a shell command) until each read asked for a quick one."""
    from harness.backends.pyocd_serial import _ack_at_once

    class Recording(socket.socket):
        asked: list[tuple[int, int, int]] = []

        def setsockopt(self, *args):  # type: ignore[override]
            self.asked.append(args)
            return super().setsockopt(*args)

    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname()[:2])
        conn, _ = listener.accept()
        port = types.SimpleNamespace(_socket=Recording(fileno=client.detach()))
        try:
            _ack_at_once(port)
            for chunk in (b"OK state=", b"IDLE\n"):
                conn.sendall(chunk)
                assert port._socket.recv(64) == chunk
            quick = (socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            assert Recording.asked == [quick, quick]
            assert port._socket.getsockname() == conn.getpeername()  # the rest: the socket's
        finally:
            port._socket.close()
            conn.close()


def test_the_lab_client_speaks_labgrids_protocol_without_importing_labgrid():
    """labgrid's package (targets, drivers; rewritten by pytest for assertions) costs a test
    process ~0.5 s of CPU: the client loads only its generated message classes."""
    import subprocess
    import sys

    code = ("import sys; from harness.lab.client import messages; pb = messages(); "
            "pb.ClientInMessage(startup=pb.StartupDone(version='26', name='h/u')); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'labgrid'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_a_places_match_is_labgrids_exporter_group_class_name_pattern():
    from harness.lab.client import LabPlace, Match

    place = LabPlace("bench-1-1", {}, (Match("host-1", "bench-1-1", "*"),
                                        Match("host-2", "bench-2-1", "Net*", "console",
                                              rename="serial")), None)
    assert place.match("host-1", "bench-1-1", "PyOCDServer", "probe") == place.matches[0]
    assert place.match("host-1", "bench-1-2", "PyOCDServer", "probe") is None
    assert place.match("host-2", "bench-2-1", "NetworkSerialPort", "console").rename == "serial"
    assert place.match("host-2", "bench-2-1", "NetworkSerialPort", "other") is None
    assert place.match("host-2", "bench-2-1", "PyOCDServer", "console") is None


def test_a_console_opened_early_is_taken_as_it_is_by_the_next_open():
    """A lab place's console starts opening once the place is held (RFC 2217: ~0.5 s); the
    first DUT takes it, with nothing that came before it asked, at the speed it wants."""
    from harness.backends import pyocd_serial

    pyocd_serial.open_early("loop://", 9600)
    early = pyocd_serial._EARLY["loop://"].result()
    early.port.write(b"before the DUT asked\n")
    stream = pyocd_serial.open_console_stream("loop://", 115200)
    try:
        assert stream is early and "loop://" not in pyocd_serial._EARLY
        assert stream.port.baudrate == 115200
        stream.sendall(b"status\n")
        assert stream.recv(64) == b"status\n"
        again = pyocd_serial.open_console_stream("loop://", 115200)  # taken once: a new one
        assert again is not early
        again.close()
    finally:
        stream.close()


def test_a_console_opened_early_that_no_dut_took_is_closed_at_release():
    from harness.backends import pyocd_serial

    pyocd_serial.open_early("loop://", 115200)
    early = pyocd_serial._EARLY["loop://"].result()
    pyocd_serial.drop_early("loop://")
    assert not early.port.is_open and "loop://" not in pyocd_serial._EARLY
    pyocd_serial.drop_early("loop://")  # again: nothing to do
