"""The bench inventory (``targets/benches/<name>.yaml``) and exclusive leases on its resources.

A bench is a set of slots. Each slot is where one DUT sits: a debug probe (by unique id) with a
console serial port, and the instruments wired to that DUT (a supply channel, a meter, a counter).
The default inventory, ``targets/benches/emulated.yaml``, is the emulated bench: ``qemu:auto``
probes and virtual instruments. Every field is checked like a target file's.

Leases: when several pytest-xdist workers (or several station slots) share one bench, each
resource is held by one of them at a time — a non-blocking file lock per resource. A worker that
finds nothing free fails at once, naming what it looked for; it never waits silently.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from .config import load_model
from .errors import HarnessError


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Probe(_Model):
    uid: str = Field(description="probe unique id; 'qemu:auto' starts an emulated chip")
    target: str | None = Field(default=None, description="target it is wired to; None = any")
    console: str | None = Field(
        default=None, description="console serial port (e.g. /dev/ttyACM0); None = the "
        "emulator's own chardev")
    channels: dict[str, str] = Field(
        default_factory=dict, description="raw byte channels wired to this DUT: name → serial "
        "device or pyserial URL, e.g. can: /dev/ttyACM1 (a USB SLCAN adapter)")
    slot: Annotated[int, Field(ge=1)]
    tags: list[str] = Field(default_factory=list)


class SupplyChannel(_Model):
    """Safety limits of one supply channel, for the DUT it feeds. Nothing beyond is ever sent."""

    max_voltage: Annotated[float, Field(gt=0)]
    max_current: Annotated[float, Field(gt=0)]
    voltage: Annotated[float, Field(gt=0)] | None = Field(
        default=None, description="nominal supply voltage for the DUT")
    current_limit: Annotated[float, Field(gt=0)] | None = None


if TYPE_CHECKING:
    StopBits = float  # PEP 586 allows no float in a Literal
else:
    StopBits = Literal[1, 1.5, 2]  # what pydantic accepts


class SerialSettings(_Model):
    """Line settings of an instrument on a serial port (``ASRL...`` resources)."""

    baud_rate: Annotated[int, Field(gt=0)] = 9600
    data_bits: Literal[5, 6, 7, 8] = 8
    parity: Literal["none", "odd", "even", "mark", "space"] = "none"
    stop_bits: StopBits = 1
    flow_control: Literal["none", "xon_xoff", "rts_cts", "dtr_dsr"] = "none"

    def visa_attributes(self) -> dict:
        """As PyVISA's serial resource attributes."""
        from pyvisa import constants

        return {"baud_rate": self.baud_rate, "data_bits": self.data_bits,
                "parity": constants.Parity[self.parity],
                "stop_bits": {1: constants.StopBits.one, 1.5: constants.StopBits.one_and_a_half,
                              2: constants.StopBits.two}[self.stop_bits],
                "flow_control": 0 if self.flow_control == "none"
                else constants.ControlFlow[self.flow_control]}


SERIAL_RESOURCE = re.compile(r"^(ASRL|virtual-asrl:)", re.IGNORECASE)


class Instrument(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Literal["psu", "dmm", "counter"]
    resource: str = Field(description="VISA resource string, or 'virtual:<model>' for a "
                          "virtual LXI instrument the harness starts on loopback TCP, "
                          "'virtual-asrl:<model>' for one on a serial port (a pty)")
    slot: Annotated[int, Field(ge=1)] | None = Field(default=None,
                                                     description="slot it serves; None = all")
    channels: dict[int, SupplyChannel] = Field(default_factory=dict)
    timeout_ms: Annotated[int, Field(gt=0)] = 2000
    serial: SerialSettings | None = Field(
        default=None, description="line settings; only for a serial-port resource (ASRL...)")

    def model_post_init(self, _context: object) -> None:
        if self.serial is not None and not SERIAL_RESOURCE.match(self.resource):
            raise ValueError(f"instrument {self.name!r}: 'serial' settings need a serial "
                             f"resource (ASRL...), not {self.resource!r}")


class Bench(_Model):
    name: str
    description: str = ""
    probes: list[Probe] = Field(default_factory=list)
    instruments: list[Instrument] = Field(default_factory=list)
    source: Path | None = Field(default=None, exclude=True)

    def model_post_init(self, _context: object) -> None:
        seen: set[str] = set()
        for p in self.probes:
            if p.uid != "qemu:auto" and p.uid in seen:
                raise ValueError(f"probe uid {p.uid!r} listed twice")
            seen.add(p.uid)
        names = [i.name for i in self.instruments]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"instrument names listed twice: {sorted(dup)}")
        for inst in self.instruments:
            if inst.kind == "psu" and not inst.channels:
                raise ValueError(f"supply {inst.name!r} needs 'channels' with safety limits")

    @property
    def slots(self) -> list[int]:
        return sorted({p.slot for p in self.probes} |
                      {i.slot for i in self.instruments if i.slot is not None})

    def probes_for(self, target: str | None = None, slot: int | None = None,
                   tags: tuple[str, ...] = ()) -> list[Probe]:
        return [p for p in self.probes
                if (target is None or p.target in (None, target))
                and (slot is None or p.slot == slot)
                and set(tags) <= set(p.tags)]

    def instruments_for(self, kind: str, slot: int | None = None) -> list[Instrument]:
        return [i for i in self.instruments
                if i.kind == kind and (slot is None or i.slot in (None, slot))]


def load_bench(path: Path) -> Bench:
    bench = load_model(Path(path), Bench, "bench inventory")
    return bench.model_copy(update={"source": Path(path)})


class NoFreeResource(HarnessError):
    pass


def _lock_dir() -> Path:
    d = Path(os.environ.get("HARNESS_LEASE_DIR", "/tmp/qsm-harness-leases"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _key(resource: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", resource)


@contextlib.contextmanager
def lease(resource: str) -> Iterator[None]:
    """Hold ``resource`` exclusively (across processes) for the body; fail at once if taken."""
    with open(_lock_dir() / f"{_key(resource)}.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise NoFreeResource(f"{resource} is leased by another process") from None
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def lease_first(candidates: list[str], what: str) -> Iterator[str]:
    """Lease the first free of ``candidates`` (resource keys); ``what`` names the request.

    Emulated resources ('qemu:auto') are unlimited and never leased.
    """
    if not candidates:
        raise NoFreeResource(f"no {what} in the bench inventory")
    for res in candidates:
        if res == "qemu:auto":
            yield res
            return
        stack = contextlib.ExitStack()
        try:
            stack.enter_context(lease(res))
        except NoFreeResource:
            continue
        with stack:
            yield res
        return
    raise NoFreeResource(f"no free {what}: all of {', '.join(candidates)} are leased")
