"""Start the virtual instruments a bench inventory lists as ``virtual:<model>``."""

from __future__ import annotations

import contextlib
import zlib

from ...bench import Instrument
from ..errors import InstrumentError
from .counters import Keysight53220A
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


def make(inst: Instrument) -> VirtualInstrument:
    model = inst.resource[len(_prefix(inst) or ""):].lower()
    try:
        cls = MODELS[model]
    except KeyError:
        raise InstrumentError(f"instrument {inst.name!r}: unknown virtual model {model!r} in "
                              f"{inst.resource!r}; known: {', '.join(sorted(MODELS))}") from None
    serial = f"VIRT{zlib.crc32(inst.name.encode()) % 100000:05d}"
    if issubclass(cls, (KeysightE36312A, RigolDP832)):
        dut_channel = min(inst.channels) if inst.channels else 1
        return cls(serial=serial, dut_channel=dut_channel)
    return cls(serial=serial)


class VirtualLab:
    """The running virtual instruments of one process, by inventory name; closes them all."""

    def __init__(self) -> None:
        self.servers: dict[str, ScpiServer | PtyServer] = {}

    def start(self, inst: Instrument) -> ScpiServer | PtyServer:
        if inst.name not in self.servers:
            prefix = _prefix(inst)
            if prefix is None:
                raise InstrumentError(f"instrument {inst.name!r}: {inst.resource!r} is not a "
                                      f"virtual instrument ({', '.join(SERVERS)}<model>)")
            self.servers[inst.name] = SERVERS[prefix](make(inst))
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
