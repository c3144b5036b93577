"""A lab place as a bench inventory: the pyocd world then runs on it as on a local bench.

A place's resources (what an exporter publishes: see :mod:`harness.lab`):

* ``probe``   class ``PyOCDServer`` (ours, passed through by labgrid's exporter): pyOCD's
              ``pyocd server`` on the bench host, opened as pyOCD's ``remote:HOST:PORT`` probe;
* ``console`` class ``NetworkSerialPort`` (labgrid's: ser2net with RFC 2217 on the bench host
              while the place is acquired), opened as pyserial's ``rfc2217://HOST:PORT``
              (``ign_set_control``: a pty behind it has no modem lines to report);
* ``VISAResource`` (ours), any number: an instrument's VISA resource string with its kind
              (``psu``, ``dmm``, ``counter``); a supply's also the ``channel`` feeding the
              board and its settings and safety limits.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .acquire import LabError, Place

PROBE = "PyOCDServer"
CONSOLE = "NetworkSerialPort"
VISA = "VISAResource"
CHANNEL_FIELDS = ("voltage", "current_limit", "max_voltage", "max_current")


def inventory(place: Place, coordinator: str) -> dict:
    """The bench inventory (the fields of ``harness.bench.Bench``) of one place, as slot 1."""
    probes = [r for r in place.resources.values() if r.cls == PROBE]
    if not probes:
        raise LabError(f"lab place {place.name}: no {PROBE} resource (its resources: "
                       f"{_list(place)})")
    probe = probes[0].params
    entry: dict = {"uid": f"remote:{probe['host']}:{int(probe['port'])}", "slot": 1,
                   "tags": ["lab", f"place={place.name}"]}
    console = console_url(place)
    if console is not None:
        entry["console"] = console
    instruments = []
    for name, r in sorted(place.resources.items()):
        if r.cls == VISA:
            instruments.append(_instrument(place, name, r.params))
    return {"name": place.name,
            "description": f"lab place {place.name} from {coordinator} "
                           f"({', '.join(f'{k}={v}' for k, v in sorted(place.tags.items()))})",
            "probes": [entry], "instruments": instruments}


def console_url(place: Place) -> str | None:
    """The place's console as pyserial opens it (None: the place has none)."""
    consoles = [r for r in place.resources.values() if r.cls == CONSOLE]
    if not consoles:
        return None
    c = consoles[0].params
    if not c.get("port"):
        raise LabError(f"lab place {place.name}: its console has no port (the exporter's "
                       f"ser2net is not running)")
    return f"rfc2217://{c['host']}:{int(c['port'])}?ign_set_control"


def console_speed(place: Place) -> int:
    """The line speed of the place's console (its resource's ``speed``; 115200 if unset)."""
    consoles = [r for r in place.resources.values() if r.cls == CONSOLE]
    speed = consoles[0].params.get("speed") if consoles else None
    return int(speed) if speed else 115200


def _instrument(place: Place, name: str, params: dict) -> dict:
    """A bench instrument from a VISAResource's params: ``kind``, ``resource``; a supply's
    ``channel`` feeding the board with its ``voltage``, ``current_limit``, ``max_voltage`` and
    ``max_current`` (labgrid's params are flat: one channel per resource)."""
    missing = [k for k in ("kind", "resource") if not params.get(k)]
    if missing:
        raise LabError(f"lab place {place.name}: instrument {name} has no "
                       f"{' or '.join(missing)} (its params: {params})")
    entry: dict = {"name": name, "kind": params["kind"], "resource": params["resource"],
                   "slot": 1}
    if params.get("channel") is not None:
        entry["channels"] = {int(params["channel"]): {
            k: float(params[k]) for k in CHANNEL_FIELDS if params.get(k) is not None}}
    if params.get("timeout_ms"):
        entry["timeout_ms"] = int(params["timeout_ms"])
    return entry


def write_inventory(place: Place, coordinator: str, path: Path) -> Path:
    """Write ``place``'s bench inventory to ``path`` (its directory made as needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(inventory(place, coordinator), sort_keys=False))
    return path


def _list(place: Place) -> str:
    return ", ".join(f"{n} ({r.cls})" for n, r in sorted(place.resources.items())) or "none"
