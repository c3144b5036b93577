"""The lab's parts that need no coordinator: tags, a place as a bench inventory, the guard
that keeps labgrid's own pytest plugin out of harness runs."""

from __future__ import annotations

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
