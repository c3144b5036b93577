"""The pyocd world: the Dut protocols on a pyOCD session over a debug probe.

``--probe UID`` picks the probe by unique id (a CMSIS-DAP/ST-Link/J-Link serial number on a
bench); ``--probe qemu:auto`` starts an emulated chip — QEMU without ``-kernel`` behind the
``qemu:`` probe — so pyOCD itself flashes it. Without ``--probe`` a free probe of the bench
inventory is leased (the emulated bench offers ``qemu:auto``).

One pyOCD session per DUT, opened here and closed on every exit path. pyOCD is imported only
when a DUT of this world is opened.
"""

from __future__ import annotations

import contextlib
import functools
import os
import struct
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Target
from ..console import Console
from ..dut import Dut
from ..emu import process as qemu_process
from ..emu.process import QemuProcess
from ..errors import ConfigError, DutLost, FirmwareError, HarnessError
from ..firmware import FirmwareImage
from ..protocols import CORE_REGISTERS, Execution, Halt, Loader, Memory, image_differences

if TYPE_CHECKING:
    from ..bench import Bench

AUTO = "qemu:auto"
SESSION_OPTIONS = {
    "connect_mode": "halt",
    "reset.post_delay": 0.0,
    "resume_on_disconnect": False,
    "smart_flash": False,  # an emulated flash is written whole, faster than read-compare
    "chip_erase": "sector",
}


def _translate(what: str):
    """Method decorator: pyOCD errors become harness errors naming the probe and the step."""

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(self, *args, **kwargs):
            from pyocd.core import exceptions

            try:
                return fn(self, *args, **kwargs)
            except exceptions.ProbeDisconnected as exc:
                raise DutLost(f"probe {self.backend.uid}: lost during {what}: {exc}\n"
                              f"{self.backend.diagnosis()}") from None
            except exceptions.Error as exc:
                if not self.backend.alive:
                    raise DutLost(f"probe {self.backend.uid}: lost during {what}: {exc}\n"
                                  f"{self.backend.diagnosis()}") from None
                raise HarnessError(f"probe {self.backend.uid}: {what} failed: {exc}") from None
        return wrapper
    return deco


class PyocdMemory(Memory):
    def __init__(self, backend: PyocdBackend) -> None:
        self.backend = backend

    @property
    def target(self):
        return self.backend.session.target

    # Aligned words go as 32-bit transfers, only the unaligned ends as bytes: a peripheral
    # register takes word accesses (a byte store to it is dropped or lands in the wrong lane,
    # a byte read of a FIFO pops it four times).
    @_translate("memory read")
    def read(self, address: int, length: int) -> bytes:
        out = bytearray()
        for addr, n, words in _spans(address, length):
            if words:
                out += struct.pack(f"<{n // 4}I", *self.target.read_memory_block32(addr, n // 4))
            else:
                out += bytes(self.target.read_memory_block8(addr, n))
        return bytes(out)

    @_translate("memory write")
    def write(self, address: int, data: bytes) -> None:
        data = bytes(data)
        for addr, n, words in _spans(address, len(data)):
            chunk = data[addr - address:addr - address + n]
            if words:
                self.target.write_memory_block32(addr, list(struct.unpack(f"<{n // 4}I", chunk)))
            else:
                self.target.write_memory_block8(addr, chunk)


def _spans(address: int, length: int) -> list[tuple[int, int, bool]]:
    """[(address, length, as_words)]: unaligned head bytes, aligned words, tail bytes."""
    end = address + length
    lo, hi = min(-(-address // 4) * 4, end), max(end // 4 * 4, address)
    if hi <= lo:
        return [(address, length, False)] if length else []
    spans = [(address, lo - address, False), (lo, hi - lo, True), (hi, end - hi, False)]
    return [s for s in spans if s[1]]


_REASONS = {"BREAKPOINT": "trap", "WATCHPOINT": "watchpoint", "VECTOR_CATCH": "reset",
            "EXTERNAL": "interrupt"}


class PyocdExecution(Execution):
    """Run control, core registers and hardware breakpoints through pyOCD's CortexM."""

    def __init__(self, backend: PyocdBackend, poll: float = 0.0005) -> None:
        self.backend = backend
        self.poll = poll
        self._last = "interrupt"  # why the core last stopped, as far as we caused it

    @property
    def target(self):
        return self.backend.session.target

    def _halt_info(self, default: str) -> Halt:
        """DFSR says breakpoint/vector catch; a plain HALTED is a halt request or a step, which
        only the caller knows (``default``)."""
        reason = self.target.get_halt_reason()
        self._last = _REASONS.get(getattr(reason, "name", ""), default)
        return Halt(self._last, self.target.read_core_register("pc"))

    @_translate("halt")
    def halt(self) -> Halt:
        if self.target.is_halted():
            return self._halt_info(self._last)
        self.target.halt()
        return self._halt_info("interrupt")

    @_translate("resume")
    def resume(self) -> None:
        self.target.resume()

    @_translate("step")
    def step(self) -> Halt:
        if not self.target.is_halted():
            self.target.halt()
        self.target.step()
        self._last = "trap"
        return Halt("trap", self.target.read_core_register("pc"))

    @_translate("reset")
    def reset(self, halt: bool = False) -> None:
        if halt:
            self.target.reset_and_halt()
            self._last = "reset"
        else:
            self.target.reset()

    @property
    @_translate("state query")
    def is_halted(self) -> bool:
        return self.target.is_halted()

    @_translate("register read")
    def read_register(self, name: str) -> int:
        return self.target.read_core_register(name.lower())

    @_translate("register write")
    def write_register(self, name: str, value: int) -> None:
        self.target.write_core_register(name.lower(), value)

    @_translate("register read")
    def registers(self, names: tuple[str, ...] = CORE_REGISTERS) -> dict[str, int]:
        was_halted = self.target.is_halted()
        if not was_halted:
            self.target.halt()
        try:
            values = self.target.read_core_registers_raw([n.lower() for n in names])
        finally:
            if not was_halted:
                self.target.resume()
        return dict(zip(names, values, strict=True))

    @_translate("breakpoint")
    def set_breakpoint(self, address: int) -> None:
        from pyocd.core.target import Target as PyocdTarget

        if not self.target.set_breakpoint(address & ~1, PyocdTarget.BreakpointType.HW):
            raise HarnessError(f"probe {self.backend.uid}: no free hardware breakpoint for "
                               f"0x{address:08x}")
        self.target.selected_core.bp_manager.flush()  # pyOCD applies them lazily (on resume)

    @_translate("breakpoint removal")
    def clear_breakpoint(self, address: int) -> None:
        self.target.remove_breakpoint(address & ~1)
        self.target.selected_core.bp_manager.flush()

    @_translate("wait for halt")
    def wait_halt(self, timeout: float) -> Halt | None:
        deadline = time.monotonic() + timeout
        while not self.target.is_halted():
            if time.monotonic() >= deadline:
                return None
            time.sleep(self.poll)
        return self._halt_info("trap")


def _quiet(_fraction: float) -> None:
    """FileProgrammer progress: nothing on the terminal (pytest captures; logs say enough)."""


class PyocdLoader(Loader):
    """FileProgrammer for the image, then a read-back verify of every load segment."""

    def __init__(self, backend: PyocdBackend, memory: Memory) -> None:
        self.backend = backend
        self.memory = memory
        self.loaded: FirmwareImage | None = None  # programmed and verified, core reset-halted

    @_translate("flash programming")
    def load(self, image: FirmwareImage) -> None:
        from pyocd.flash.file_programmer import FileProgrammer

        target = self.backend.session.target
        if not target.is_halted():
            target.halt()
        extra = {"base_address": image.load_address} if image.format == "bin" else {}
        FileProgrammer(self.backend.session, progress=_quiet).program(
            str(image.path), file_format=image.format, **extra)
        if problems := self.verify(image):
            raise FirmwareError(f"{image.path.name}: verify after flashing through probe "
                                f"{self.backend.uid} failed: " + "; ".join(problems))
        target.reset_and_halt()
        self.loaded = image

    def verify(self, image: FirmwareImage) -> list[str]:
        return image_differences(self.memory, image)

    @_translate("mass erase")
    def mass_erase(self) -> None:
        from pyocd.flash.eraser import FlashEraser

        FlashEraser(self.backend.session, FlashEraser.Mode.CHIP).erase()
        self.loaded = None


class PyocdBackend:
    """Owns the probe lease, the emulated chip (``qemu:auto``), the session and the consoles.

    Public, besides the Backend protocol and the Dut's protocols: ``uid`` (the probe's unique
    id), ``session`` (the open pyOCD session, for pyOCD's own tools such as a MemoryLoader),
    ``process`` (the QEMU behind ``qemu:auto``, None for a bench probe; see
    :class:`~harness.emu.process.QemuProcess`) and ``pid`` (its process id).
    """

    world = "pyocd"

    def __init__(self, target: Target, image: FirmwareImage, name: str, probe: str | None,
                 log_dir: Path | None, timeout_factor: float, bench: Bench | None = None,
                 slot: int | None = None) -> None:
        self.target = target
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

                    qmp = QmpClient(process.qmp, timeout=5.0 * timeout_factor,
                                    name=f"{name} qmp", rundir=process.rundir)
                    self.channels = qemu_process.raw_channels(target, qmp, name)
            else:
                streams = self._bench_consoles(console_port)
            self.consoles = {
                cname: Console(sock, f"{name}/{cname}",
                               log_dir / f"{name}.{cname}.log" if log_dir else None,
                               timeout_factor)
                for cname, sock in streams.items()}
            self._stack.callback(self._close_consoles)
            self._session = self._open_session()
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
        process = self.process = qemu_process.start(self.target, None, self.name,
                                                    timeout=10.0 * timeout_factor,
                                                    log_dir=self.log_dir)
        self._stack.callback(process.close)
        path = str(process.rundir / "gdb.sock")
        self.uid = launch.register(path, process.gdb, self.target.qemu.machine,
                                   f"{self.name} ({self.target.qemu.machine})",
                                   diagnosis=process.diagnosis)
        self._stack.callback(launch.unregister, path)
        return process

    def _bench_consoles(self, port: str | None) -> dict:
        from .pyocd_serial import open_console_stream

        if port is None:
            return {}
        spec = self.target.consoles[self.target.console_name]
        stream = open_console_stream(port, spec.baud)
        self._stack.callback(stream.close)
        return {self.target.console_name: stream}

    def _open_session(self) -> Any:
        from pyocd.core.helpers import ConnectHelper

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

    def diagnosis(self) -> str:
        text = f"pyOCD session on probe {self.uid}"
        if self.process is not None:
            text += f"; {self.process.diagnosis()}"
        return text

    def power_on(self) -> None:
        """Flash the image (pyOCD FileProgrammer) unless it is already programmed and
        verified, and let the chip run from reset."""
        if not self.alive:
            raise DutLost(f"{self.name}: {self.diagnosis()}")
        if self.loader.loaded is not self.image:
            self.loader.load(self.image)
        self.execution.resume()

    def close(self) -> int | None:
        code = None
        process = self.process
        self._stack.close()
        if process is not None:
            code = process.proc.returncode
        return code


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
             boot: bool = True) -> Dut:
    """Open a pyOCD session on ``probe`` (default: the bench inventory's, ``qemu:auto`` on the
    emulated bench) and flash ``image``: a booted :class:`Dut`, or with ``boot=False`` one
    halted at the reset vector of the flashed image (closed on any failure)."""
    factor = timeout_factor * (target.bench.timeout_factor if target.bench else 1.0)
    backend = PyocdBackend(target, image, name or target.name, probe, log_dir, factor,
                           bench=bench, slot=slot)
    if not boot:
        try:
            backend.loader.load(image)  # leaves the core reset and halted
        except BaseException:
            backend.close()
            raise
    return Dut.from_backend(backend, target=target, image=image, timeout_factor=factor,
                            name=backend.name, boot=boot)
