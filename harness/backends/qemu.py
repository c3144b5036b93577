"""The qemu world: the Dut protocols on a QEMU process, through its gdbstub and QMP."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path

from .. import patience
from ..config import Target
from ..console import Console
from ..dut import Dut
from ..emu import process as qemu_process
from ..emu import store
from ..emu.process import QemuProcess
from ..emu.qmp import QmpClient
from ..emu.rsp import RspClient, StopReply
from ..emu.rsp_wire import RspConnection
from ..emu.vclock import VirtualClock, icount_shift
from ..errors import DutLost, FirmwareError
from ..firmware import FirmwareImage
from ..protocols import CORE_REGISTERS, Execution, Halt, Loader, Memory, image_differences
from .qemu_clock import QemuClock


class RspMemory(Memory):
    """Memory through the gdbstub. Writes outside the target's RAM and flash are device
    registers, which QEMU's debugger path drops: the core does them (:mod:`harness.emu.store`).

    ``on_write(address, length)``, when set, hears of every write before it is done (a pool
    keeps track of what a test wrote: through here is the only way to change the chip's flash).
    """

    def __init__(self, rsp: RspClient, target: Target, name: str) -> None:
        self.rsp = rsp
        self.name = name
        self.regions = [(r.start, r.end) for r in target.memory
                        if r.kind in ("flash", "rom", "ram")]
        self.scratch = target.region("ram")[0].start
        self.on_write: Callable[[int, int], None] | None = None

    def read(self, address: int, length: int) -> bytes:
        return self.rsp.read_memory(address, length)

    def write(self, address: int, data: bytes) -> None:
        if self.on_write is not None and data:
            self.on_write(address, len(data))
        end = address + len(data)
        if any(lo <= address and end <= hi for lo, hi in self.regions):
            self.rsp.write_memory(address, bytes(data))
        else:
            store.device_write(self.rsp, self.scratch, address, bytes(data),
                               name=f"{self.name} gdbstub")


class QemuExecution(Execution):
    """Run control through the gdbstub; reset through QMP (leaves the core at the reset vector)."""

    def __init__(self, rsp: RspClient, qmp: QmpClient) -> None:
        self.rsp = rsp
        self.qmp = qmp

    def _halt_info(self, stop: StopReply) -> Halt:
        return Halt(stop.reason, self.rsp.read_register("pc"))

    def halt(self) -> Halt:
        return self._halt_info(self.rsp.halt())

    def resume(self) -> None:
        self.rsp.cont()

    def step(self) -> Halt:
        return self._halt_info(self.rsp.step())

    def reset(self, halt: bool = False) -> None:
        with self.rsp.lock:
            self.rsp.reset_halted(self.qmp.system_reset)
            if not halt:
                self.rsp.cont()

    @property
    def is_halted(self) -> bool:
        with self.rsp.lock:
            self.rsp.poll_stop()
            return not self.rsp.running

    def read_register(self, name: str) -> int:
        return self.rsp.read_register(name)

    def write_register(self, name: str, value: int) -> None:
        self.rsp.write_register(name, value)

    def registers(self, names: tuple[str, ...] = CORE_REGISTERS) -> dict[str, int]:
        with self.rsp.paused():  # one halt for the whole set, not one per register
            return {n: self.rsp.read_register(n) for n in names}

    def set_breakpoint(self, address: int) -> None:
        self.rsp.set_breakpoint(address & ~1)

    def clear_breakpoint(self, address: int) -> None:
        self.rsp.clear_breakpoint(address & ~1)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        with self.rsp.paused():  # under the client's lock: no other request in between
            yield

    def wait_halt(self, timeout: float) -> Halt | None:
        stop = self.rsp.wait_stop(timeout)
        return None if stop is None else self._halt_info(stop)


class RspLoader(Loader):
    """Writes the image's load segments through the debugger, then resets (lm3s keeps them)."""

    def __init__(self, memory: Memory, execution: Execution) -> None:
        self.memory = memory
        self.execution = execution

    def load(self, image: FirmwareImage) -> None:
        self.execution.halt()
        for seg in image.segments:
            self.memory.write(seg.address, seg.data)
        if problems := self.verify(image):
            raise FirmwareError(f"{image.path.name}: verify after load failed: "
                                + "; ".join(problems))
        self.execution.reset(halt=True)

    def verify(self, image: FirmwareImage) -> list[str]:
        return image_differences(self.memory, image)


class QemuBackend:
    """Owns one QEMU process and the clients talking to it.

    Public, besides the Backend protocol and the Dut's protocols (``memory``, ``execution``,
    ``loader``, ``consoles``, ``channels``): ``process`` — the QEMU process
    (:class:`~harness.emu.process.QemuProcess`: ``pid``, ``rundir``, ``alive``, ``kill()`` for
    tests that lose a chip on purpose) — and ``pid``. ``rsp`` and ``qmp`` are the world's own
    clients: a test goes through the Dut.
    """

    world = "qemu"

    def __init__(self, target: Target, image: FirmwareImage, name: str,
                 log_dir: Path | None, timeout_factor: float) -> None:
        self.target = target
        self.name = name
        wait = functools.partial(patience.factored, factor=timeout_factor)
        self.process: QemuProcess = qemu_process.start(target, image, name,
                                                       timeout=wait("process_start"),
                                                       log_dir=log_dir)
        try:
            self.qmp = QmpClient(self.process.qmp, timeout=wait("qmp"),
                                 name=f"{name} qmp", rundir=self.process.rundir)
            self.rsp = RspClient(RspConnection(self.process.gdb, wait("gdbstub"),
                                               name=f"{name} gdbstub"))
            self.rsp.handshake()
            self.channels = qemu_process.raw_channels(target, self.qmp, name)
            self.consoles = {
                cname: Console(sock, f"{name}/{cname}",
                               log_dir / f"{name}.{cname}.log" if log_dir else None,
                               timeout_factor)
                for cname, sock in self.process.consoles.items()
            }
        except BaseException:
            self.process.close()
            raise
        self.memory = RspMemory(self.rsp, target, name)
        self.execution = QemuExecution(self.rsp, self.qmp)
        self.loader = RspLoader(self.memory, self.execution)
        self.clock: QemuClock | None = None  # on chip time (-icount): dut.clock
        shift = icount_shift(self.process.argv)
        if shift is not None:
            self.clock = QemuClock(VirtualClock(self.qmp, shift, self.process.rundir,
                                                self.execution.paused), self.execution)

    @property
    def alive(self) -> bool:
        return self.process.alive

    @property
    def pid(self) -> int:
        """The QEMU process's id."""
        return self.process.pid

    def diagnosis(self) -> str:
        return self.process.diagnosis()

    def log_to(self, log_dir: Path) -> None:
        """A reused chip's logs go to the test now using it: its console logs, and QEMU's own
        log should QEMU die."""
        self.process.log_dir = log_dir
        for cname, con in self.consoles.items():
            con.log.open(log_dir / f"{self.name}.{cname}.log")

    def power_on(self) -> None:
        """Let the halted (``-S``) chip run from its reset vector."""
        if not self.alive:
            raise DutLost(f"{self.name}: {self.diagnosis()}")
        if self.clock is not None:
            self.clock.power_on()
        self.rsp.cont()

    def close(self) -> int | None:
        for c in self.consoles.values():
            c.close()
        self.rsp.close()
        code = self.process.close(qmp_quit=self.qmp.send_quit)
        self.qmp.close()
        return code


def open_dut(target: Target, image: FirmwareImage, name: str | None = None,
             log_dir: Path | None = None, timeout_factor: float = 1.0,
             boot: bool = True) -> Dut:
    """Start QEMU with ``image``: a booted :class:`Dut`, or halted at the reset vector with
    ``boot=False`` (closed on any failure)."""
    factor = timeout_factor * (target.qemu.timeout_factor if target.qemu else 1.0)
    backend = QemuBackend(target, image, name or target.name, log_dir, factor)
    return Dut.from_backend(backend, target=target, image=image, timeout_factor=factor,
                            name=backend.name, boot=boot)
