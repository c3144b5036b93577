"""Start the virtual instruments a bench inventory lists as ``virtual:<model>``.

Reading noise: an instrument started for a unit under test (``VirtualLab.unit_serial``, set
when the run has a serial number) draws its noise from a generator seeded by that serial and the
instrument's inventory name, so the same unit on the same slot reads the same sequence; without
a serial number the noise is unseeded, as before.
"""

from __future__ import annotations

import contextlib
import zlib

from ...bench import Instrument
from ..errors import InstrumentError
from .counters import Keysight53220A
from .coupling import unit_seed
from .instrument import VirtualInstrument
from .meters import Keysight34461A
from .server import PtyServer, ScpiServer
from .supplies import KeysightE36312A, RigolDP832

MODELS: dict[str, type[VirtualInstrument]] = {
    "keysight-e36312a": KeysightE36312A,
    "rigol-dp832": RigolDP832,
    "keysight-34461a": Keysight34461A,
    "keysight-53220a": Keysight53220A,
}
# resource prefix → how the virtual instrument is served
SERVERS = {"virtual:": ScpiServer, "virtual-asrl:": PtyServer}


def _prefix(inst: Instrument) -> str | None:
    return next((p for p in SERVERS if inst.resource.startswith(p)), None)


def is_virtual(inst: Instrument) -> bool:
    return _prefix(inst) is not None


def make(inst: Instrument, unit_serial: str | None = None) -> VirtualInstrument:
    """The virtual instrument ``inst`` names; its noise seeded for ``unit_serial`` if given."""
    model = inst.resource[len(_prefix(inst) or ""):].lower()
    try:
        cls = MODELS[model]
    except KeyError:
        raise InstrumentError(f"instrument {inst.name!r}: unknown virtual model {model!r} in "
                              f"{inst.resource!r}; known: {', '.join(sorted(MODELS))}") from None
    serial = f"VIRT{zlib.crc32(inst.name.encode()) % 100000:05d}"
    seed = None if unit_serial is None else unit_seed(unit_serial, f"instrument {inst.name}")
    if issubclass(cls, (KeysightE36312A, RigolDP832)):
        dut_channel = min(inst.channels) if inst.channels else 1
        return cls(serial=serial, seed=seed, dut_channel=dut_channel)
    return cls(serial=serial, seed=seed)


class VirtualLab:
    """The running virtual instruments of one process, by inventory name; closes them all.

    ``unit_serial``: the serial number of the unit under test, when the run has one; it seeds
    the reading noise of instruments started after it is set."""

    def __init__(self, unit_serial: str | None = None) -> None:
        self.servers: dict[str, ScpiServer | PtyServer] = {}
        self.unit_serial = unit_serial

    def start(self, inst: Instrument) -> ScpiServer | PtyServer:
        if inst.name not in self.servers:
            prefix = _prefix(inst)
            if prefix is None:
                raise InstrumentError(f"instrument {inst.name!r}: {inst.resource!r} is not a "
                                      f"virtual instrument ({', '.join(SERVERS)}<model>)")
            self.servers[inst.name] = SERVERS[prefix](make(inst, self.unit_serial))
        return self.servers[inst.name]

    def resource(self, inst: Instrument) -> str:
        """The VISA resource string to open ``inst`` at (virtual ones are started first)."""
        return self.start(inst).resource if is_virtual(inst) else inst.resource

    def instrument(self, name: str) -> VirtualInstrument | None:
        server = self.servers.get(name)
        return server.instrument if server else None

    def close(self) -> None:
        while self.servers:
            _, server = self.servers.popitem()
            with contextlib.suppress(Exception):
                server.close()
