"""Reusing a pyOCD session between tests, the way a bench does: reset the board, don't
re-enumerate the probe and re-flash it.

Between tests a DUT returns to power-on state through pyOCD alone (so the same steps hold on a
real board): halt; drop every breakpoint; verify the image's segments by reading them back and
re-program through FileProgrammer if a test changed them; reset-and-halt, and check that sp and
pc come from the vector table; fill RAM with the target's ``ram_fill`` word; on an emulated
chip (``qemu:`` probe) also empty the UART receive FIFO and restore the device registers QEMU's
reset leaves alone (the target's ``uart_drain``/``reset_writes``); nothing unread on the
console either way; then let it run and wait for the shell. Whatever cannot be proven clean is
closed and replaced by a new session.

On chip time an idle chip is halted when it comes back, and its clock stops watching its
counter until the next power-on (a chip on icount never sleeps on the host: it would take a
CPU moving its clock on).
"""

from __future__ import annotations

from collections import Counter
from functools import cached_property
from pathlib import Path
from typing import Any

from ..config import Target
from ..dut import Dut
from ..firmware import FirmwareImage
from ..probes import emulated_core
from ..worlds import Pool
from .clean import NotClean, reset_vectors, settle_console
from .pyocd import PyocdBackend


class PyocdPool(Pool):
    def __init__(self, target: Target, image: FirmwareImage,
                 open_kwargs: dict[str, Any]) -> None:
        self.target = target
        self.image = image
        self.open_kwargs = open_kwargs
        self.stats: Counter[str] = Counter()
        self.discarded: list[str] = []
        self._idle: list[PyocdBackend] = []

    @cached_property
    def vectors(self) -> tuple[int, int]:
        return reset_vectors(self.image, self.target)

    def _reusable(self) -> PyocdBackend | None:
        while self._idle:
            backend = self._idle.pop()
            try:
                self.clean(backend)
            except NotClean as exc:
                self.discarded.append(str(exc))
                self.stats["discarded"] += 1
                backend.close()
                continue
            self.stats["reused"] += 1
            return backend
        return None

    def acquire(self, log_dir: Path | None = None, boot: bool = True) -> Dut:
        """A DUT at power-on state: booted, or halted at the reset vector (``boot=False``)."""
        backend = self._reusable()
        if backend is None:
            self.stats["fresh"] += 1
            backend = PyocdBackend(self.target, self.image, self.target.name,
                                   log_dir=log_dir, **self._backend_kwargs())
            try:
                backend.loader.load(self.image)  # leaves the core reset and halted
                backend.start_clock()
            except BaseException:
                backend.close()
                raise
        elif log_dir is not None:
            backend.log_to(log_dir)
        # the image is programmed and verified: power-on only lets the core run
        return Dut.from_backend(backend, target=self.target, image=self.image,
                                timeout_factor=self._factor(), name=backend.name, boot=boot,
                                release=self.release)

    def _factor(self) -> float:
        factor = self.open_kwargs.get("timeout_factor", 1.0)
        return factor * (self.target.bench.timeout_factor if self.target.bench else 1.0)

    def _backend_kwargs(self) -> dict[str, Any]:
        kw = dict(self.open_kwargs)
        kw["timeout_factor"] = self._factor()
        return kw

    def release(self, backend: PyocdBackend) -> None:
        for con in backend.consoles.values():
            con.log.close()
        if backend.alive and self._park(backend):
            self._idle.append(backend)
        else:
            backend.close()

    def _park(self, backend: PyocdBackend) -> bool:
        """An idle chip on chip time is halted and its counter no longer watched; False when
        it cannot be halted (it is discarded)."""
        if backend.clock is None:
            return True
        backend.clock.idle()
        try:
            backend.execution.halt()
        except Exception as exc:  # a chip that does not halt is no chip to hand out again
            self.discarded.append(f"{backend.name}: not halted when it came back ({exc})")
            self.stats["discarded"] += 1
            return False
        return True

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()

    # -- the clean-up --------------------------------------------------------------------------
    def clean(self, backend: PyocdBackend) -> None:
        if not backend.alive:
            raise NotClean(backend.diagnosis())
        try:
            self._clean(backend)
        except NotClean:
            raise
        except Exception as exc:  # a probe or session error: not provably clean
            raise NotClean(f"{backend.name}: reset through probe {backend.uid} failed: "
                           f"{exc}") from exc

    def _clean(self, backend: PyocdBackend) -> None:
        target = backend.session.target
        if not target.is_halted():
            target.halt()
        core = target.selected_core
        # (remove_all_breakpoints() alone leaves them wanted: the next resume re-inserts them)
        for address in list(core.bp_manager.get_breakpoints()):
            core.bp_manager.remove_breakpoint(address)
        core.bp_manager.flush()
        fpb = getattr(core, "fpb", None)
        if fpb is not None:  # the FPB survives a system reset: clear every comparator, disable
            # init() appends the comparators it finds to the ones it knew: without this the
            # list, and the writes that clear it, grew by six with every reuse
            fpb.hw_breakpoints.clear()
            fpb.init()
        if backend.loader.verify(self.image):
            backend.loader.load(self.image)  # re-program what a test changed (resets+halts)
            if problems := backend.loader.verify(self.image):
                raise NotClean(f"{backend.name}: image differs after re-programming: "
                               + "; ".join(problems))
        self._drain_uarts(backend)  # before the reset: a byte taken now cannot reach the boot
        target.reset_and_halt()
        got = (target.read_core_register("sp"), target.read_core_register("pc"))
        if got != self.vectors:
            raise NotClean(f"{backend.name}: reset did not land on the reset vector: "
                           f"sp=0x{got[0]:08x} pc=0x{got[1]:08x}")
        fill = self.target.qemu.ram_fill if self.target.qemu else 0
        for ram in self.target.region("ram"):
            backend.memory.write(ram.start, fill.to_bytes(4, "little") * (ram.size // 4))
        self._drain_uarts(backend)
        core = emulated_core(backend.session)
        if core is not None and self.target.qemu is not None:
            # the qemu: probe's core runs them as one table (a stepped store each is ~0.5 ms)
            core.store_table([(w.address, w.value) for w in self.target.qemu.reset_writes])
        self._settle_consoles(backend)
        if backend.clock is not None:
            backend.clock.power_on()  # chip time from this power-on state

    def _drain_uarts(self, backend: PyocdBackend) -> None:
        if emulated_core(backend.session) is None or self.target.qemu is None:
            return  # a real chip's reset resets its UARTs
        target = backend.session.target
        for d in self.target.qemu.uart_drain:
            for _ in range(64):
                if target.read32(d.status) & d.mask == d.empty:
                    break
                target.read32(d.data)
            else:
                raise NotClean(f"{backend.name}: UART at 0x{d.data:08x} keeps receiving")

    @staticmethod
    def _settle_consoles(backend: PyocdBackend) -> None:
        process = backend.process
        for name, con in backend.consoles.items():
            sock = process.consoles.get(name) if process is not None else None
            settle_console(backend.name, name, con, sock)
