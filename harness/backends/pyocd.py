"""The pyocd world: the Dut protocols on a pyOCD session over a debug probe.

``--probe UID`` picks the probe by unique id (a CMSIS-DAP/ST-Link/J-Link serial number on a
bench); ``--probe qemu:auto`` starts an emulated chip — QEMU without ``-kernel`` behind the
``qemu:`` probe — so pyOCD itself flashes it. Without ``--probe`` a free probe of the bench
inventory is leased (the emulated bench offers ``qemu:auto``).

One pyOCD session per DUT, opened here and closed on every exit path. pyOCD is imported only
when a DUT of this world is opened.

On chip time (``chip_time`` "on" or "auto", decided per target by the world) the DUT gets a
``clock`` from the core's DWT cycle counter (:mod:`harness.backends.pyocd_clock`), checked
once the image is programmed (:meth:`PyocdBackend.start_clock`); ``qemu:auto`` then runs its
QEMU on icount (the world hands over the target with its ``-icount`` arguments).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import patience
from ..config import Target
from ..console import Console
from ..dut import Dut
from ..emu import process as qemu_process
from ..emu.process import QemuProcess
from ..errors import ConfigError, DutLost, HarnessError
from ..firmware import FirmwareImage
from .pyocd_protocols import PyocdExecution, PyocdLoader, PyocdMemory

if TYPE_CHECKING:
    from ..bench import Bench
    from .pyocd_clock import DwtClock

AUTO = "qemu:auto"
SESSION_OPTIONS = {
    "connect_mode": "halt",
    "reset.post_delay": 0.0,
    "resume_on_disconnect": False,
    "smart_flash": False,  # an emulated flash is written whole, faster than read-compare
    "chip_erase": "sector",
}


class PyocdBackend:
    """Owns the probe lease, the emulated chip (``qemu:auto``), the session and the consoles.

    Public, besides the Backend protocol and the Dut's protocols: ``uid`` (the probe's unique
    id), ``session`` (the open pyOCD session, for pyOCD's own tools such as a MemoryLoader),
    ``process`` (the QEMU behind ``qemu:auto``, None for a bench probe; see
    :class:`~harness.emu.process.QemuProcess`), ``pid`` (its process id), ``clock`` (chip
    time, None without) and ``clock_problem`` (why ``--chip-time auto`` found none).
    """

    world = "pyocd"

    def __init__(self, target: Target, image: FirmwareImage, name: str, probe: str | None,
                 log_dir: Path | None, timeout_factor: float, bench: Bench | None = None,
                 slot: int | None = None, chip_time: str = "off") -> None:
        self.target = target
        self.chip_time = chip_time  # "on", "auto" (wanted for this target) or "off"
        self.clock: DwtClock | None = None
        self.clock_problem: str | None = None
        self.bench = bench
        self.slot = slot
        self.image = image
        self.name = name
        self.log_dir = log_dir  # where a crashed QEMU's own log is kept
        self.uid = probe or AUTO
        self.process: QemuProcess | None = None  # the emulated chip of qemu:auto
        self._session: Any = None  # pyocd.core.session.Session once open
        self.consoles: dict[str, Console] = {}
        self.channels: dict[str, str] = {}  # raw UARTs (SLCAN...): name → pyserial URL
        self._stack = contextlib.ExitStack()
        try:
            self.uid, console_port = self._choose_probe(probe)
            if self.uid == AUTO:
                process = self._start_emulated(timeout_factor)
                streams = dict(process.consoles)
                if any(c.kind == "raw" for c in target.consoles.values()):
                    from ..emu.qmp import QmpClient

                    qmp = QmpClient(process.qmp, timeout=patience.factored("qmp", timeout_factor),
                                    name=f"{name} qmp", rundir=process.rundir)
                    self.channels = qemu_process.raw_channels(target, qmp, name)
                self._session = self._open_session()
            else:
                streams = self._open_bench(console_port)
            self.consoles = {
                cname: Console(sock, f"{name}/{cname}",
                               log_dir / f"{name}.{cname}.log" if log_dir else None,
                               timeout_factor)
                for cname, sock in streams.items()}
            self._stack.callback(self._close_consoles)
        except BaseException:
            self._stack.close()
            raise
        self.memory = PyocdMemory(self)
        self.execution = PyocdExecution(self)
        self.loader = PyocdLoader(self, self.memory)

    # -- set-up ------------------------------------------------------------------------------
    def _choose_probe(self, probe: str | None) -> tuple[str, str | None]:
        from .. import bench as bench_mod

        inventory = self.bench if self.bench is not None else _bench_inventory(self.target)
        if probe is not None:
            entry = next((p for p in inventory.probes if p.uid == probe), None) \
                if inventory else None
            if probe != AUTO:
                self._stack.enter_context(bench_mod.lease(probe))
            self.channels = dict(entry.channels) if entry else {}
            return probe, entry.console if entry else None
        if inventory is None or not inventory.probes:
            return AUTO, None  # no bench of probes: the emulated chip behind the qemu: probe
        candidates = (inventory.probes_for(self.target.name, slot=self.slot)
                      or inventory.probes_for(self.target.name))
        uid = self._stack.enter_context(bench_mod.lease_first(
            list(dict.fromkeys(p.uid for p in candidates)),
            f"probe matching target {self.target.name} in {inventory.source}"))
        entry = next(p for p in candidates if p.uid == uid)
        self.channels = dict(entry.channels)  # a bench's raw channels (e.g. a USB SLCAN adapter)
        return uid, entry.console

    def _start_emulated(self, timeout_factor: float) -> QemuProcess:
        """Start QEMU without an image, registered as the ``qemu:`` probe ``self.uid``."""
        from ..probes import launch

        if self.target.qemu is None:
            raise ConfigError(f"{self.target.source}: no 'qemu' section; probe {AUTO} cannot "
                              f"emulate {self.target.name}")
        start_wait = patience.factored("process_start", timeout_factor)
        process = self.process = qemu_process.start(self.target, None, self.name,
                                                    timeout=start_wait, log_dir=self.log_dir)
        self._stack.callback(process.close)
        path = str(process.rundir / "gdb.sock")
        self.uid = launch.register(path, process.gdb, self.target.qemu.machine,
                                   f"{self.name} ({self.target.qemu.machine})",
                                   diagnosis=process.diagnosis)
        self._stack.callback(launch.unregister, path)
        return process

    def _open_bench(self, port: str | None) -> dict:
        """Open the probe's session and the bench's console together: a network console's
        opening handshake (RFC 2217: ~0.4 s of option negotiation) overlaps the probe's
        connection. The session is kept in ``_session``; the console streams are returned."""
        from concurrent.futures import ThreadPoolExecutor

        from .pyocd_serial import open_console_stream

        if port is None:
            self._session = self._open_session()
            return {}
        spec = self.target.consoles[self.target.console_name]
        with ThreadPoolExecutor(1, thread_name_prefix=f"{self.name}-console") as pool:
            opening = pool.submit(open_console_stream, port, spec.baud)
            try:
                self._session = self._open_session()
            except BaseException:  # the session's error is the one to report
                with contextlib.suppress(BaseException):
                    opening.result().close()
                raise
            stream = opening.result()  # its error closes the session with the rest
            self._stack.callback(stream.close)
        return {self.target.console_name: stream}

    def _open_session(self) -> Any:
        from pyocd.core.helpers import ConnectHelper

        if self.uid.lower().startswith("remote:"):
            from .pyocd_remote import patch

            patch()

        options = dict(SESSION_OPTIONS)
        if not self.uid.startswith("qemu:"):
            if self.target.bench is None:
                raise ConfigError(f"{self.target.source}: no 'bench' section; the pyOCD target "
                                  f"type of {self.target.name} is unknown")
            options["target_override"] = self.target.bench.pyocd_target
        session = ConnectHelper.session_with_chosen_probe(
            unique_id=self.uid, blocking=False, return_first=True, auto_open=False,
            options=options)
        if session is None or session.probe.unique_id.lower() != self.uid.lower():
            known = [p.unique_id for p in ConnectHelper.get_all_connected_probes(
                blocking=False, print_wait_message=False)]
            raise HarnessError(f"no debug probe with unique id {self.uid!r}; available: "
                               f"{', '.join(known) or 'none'}")
        try:
            session.open()
        except BaseException as exc:
            with contextlib.suppress(Exception):
                session.close()
            from pyocd.core import exceptions

            if isinstance(exc, exceptions.Error):
                raise DutLost(f"probe {self.uid}: cannot connect: {exc}\n"
                              f"{self.diagnosis()}") from None
            raise
        self._stack.callback(self._close_session, session)
        return session

    @staticmethod
    def _close_session(session: Any) -> None:
        with contextlib.suppress(Exception):
            session.close()

    def _close_consoles(self) -> None:
        for c in self.consoles.values():
            c.close()

    # -- public ------------------------------------------------------------------------------
    @property
    def session(self) -> Any:
        """The open pyOCD session (``pyocd.core.session.Session``)."""
        if self._session is None:
            raise DutLost(f"{self.name}: no pyOCD session on probe {self.uid}")
        return self._session

    @property
    def pid(self) -> int | None:
        """The process id of the QEMU behind ``qemu:auto`` (None for a bench probe)."""
        return self.process.pid if self.process is not None else None

    # -- Backend protocol --------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        if self.process is not None and not self.process.alive:
            return False
        session = self._session
        probe = getattr(session, "probe", None)
        return session is not None and session.is_open and probe is not None and probe.is_open

    def log_to(self, log_dir: Path) -> None:
        """A reused chip's logs go to the test now using it: its console logs, and (behind
        ``qemu:auto``) QEMU's own log should QEMU die."""
        self.log_dir = log_dir
        if self.process is not None:
            self.process.log_dir = log_dir
        for cname, con in self.consoles.items():
            con.log.open(log_dir / f"{self.name}.{cname}.log")

    def diagnosis(self) -> str:
        text = f"pyOCD session on probe {self.uid}"
        if self.process is not None:
            text += f"; {self.process.diagnosis()}"
        return text

    def start_clock(self) -> None:
        """On chip time, once the image is programmed (the core halted at its reset vector):
        ``clock`` from the DWT cycle counter. A part without a usable one stops ``--chip-time
        on`` with the reason; ``auto`` warns and goes on on the host's time."""
        if self.chip_time == "off" or self.clock is not None or self.clock_problem is not None:
            return
        from .pyocd_clock import NoCycleCounter, open_clock

        try:
            clock = open_clock(self)
        except NoCycleCounter as exc:
            why = f"{self.target.name} on probe {self.uid} has no chip clock: {exc}"
            if self.chip_time == "on":
                raise HarnessError(f"--chip-time on: {why} ({self.target.source}; or run with "
                                   "--chip-time off)") from None
            self.clock_problem = why
            warnings.warn(ChipTimeFallback(f"--chip-time auto: {why}; it runs on the host's "
                                           "time"), stacklevel=2)
            return
        self.clock = clock
        self._stack.callback(clock.close)  # before the session closes
        clock.power_on()  # a Dut not booted yet counts from its power-on state too

    def power_on(self) -> None:
        """Flash the image (pyOCD FileProgrammer) unless it is already programmed and
        verified, and let the chip run from reset (chip time counted from here)."""
        if not self.alive:
            raise DutLost(f"{self.name}: {self.diagnosis()}")
        if self.loader.loaded is not self.image:
            self.loader.load(self.image)
        if self.clock is not None:
            self.clock.power_on()
        self.execution.resume()

    def close(self) -> int | None:
        code = None
        process = self.process
        self._stack.close()
        if process is not None:
            code = process.proc.returncode
        return code


class ChipTimeFallback(UserWarning):
    """``--chip-time auto``: a part found without a usable cycle counter runs on the host's
    time."""


def _bench_inventory(target: Target) -> Bench | None:
    """The bench inventory: ``$HARNESS_BENCH``, else targets/benches/emulated.yaml."""
    from ..bench import load_bench

    env = os.environ.get("HARNESS_BENCH")
    if env:
        return load_bench(Path(env))
    if target.source is not None:
        default = Path(target.source).parent / "benches" / "emulated.yaml"
        if default.exists():
            return load_bench(default)
    return None


def open_dut(target: Target, image: FirmwareImage, *, name: str | None = None,
             log_dir: Path | None = None, timeout_factor: float = 1.0,
             probe: str | None = None, bench=None, slot: int | None = None,
             boot: bool = True, chip_time: str = "off") -> Dut:
    """Open a pyOCD session on ``probe`` (default: the bench inventory's, ``qemu:auto`` on the
    emulated bench) and flash ``image``: a booted :class:`Dut`, or with ``boot=False`` one
    halted at the reset vector of the flashed image (closed on any failure). ``chip_time``:
    "on" or "auto" gives it ``dut.clock`` from the core's cycle counter (see
    :meth:`PyocdBackend.start_clock`)."""
    factor = timeout_factor * (target.bench.timeout_factor if target.bench else 1.0)
    backend = PyocdBackend(target, image, name or target.name, probe, log_dir, factor,
                           bench=bench, slot=slot, chip_time=chip_time)
    try:
        backend.loader.load(image)  # leaves the core reset and halted
        backend.start_clock()
    except BaseException:
        backend.close()
        raise
    return Dut.from_backend(backend, target=target, image=image, timeout_factor=factor,
                            name=backend.name, boot=boot)
