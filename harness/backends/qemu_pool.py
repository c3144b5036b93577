"""Warm QEMU chips per worker: handed out at power-on state, reset between tests, not relaunched.

A new QEMU process costs ~20 ms, almost all of it process start. A reset proven clean by
:class:`~harness.backends.qemu_clean.Resetter` costs a few ms. The pool keeps the processes of
one target + image: a test's DUT goes back to the pool when it closes; the next ``acquire``
cleans it (or discards it when it cannot be proven clean) and boots it. A launcher thread keeps
``spares`` fresh processes started ahead, halted (an idle halted QEMU costs no CPU).
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from pathlib import Path

from .. import patience
from ..config import Target
from ..dut import Dut
from ..errors import DutLost
from ..firmware import FirmwareImage
from ..worlds import Pool
from .clean import NotClean
from .qemu import QemuBackend
from .qemu_clean import Resetter


class QemuPool(Pool):
    def __init__(self, target: Target, image: FirmwareImage, timeout_factor: float = 1.0,
                 spares: int = 1) -> None:
        self.target = target
        self.image = image
        self.timeout_factor = timeout_factor * (target.qemu.timeout_factor if target.qemu
                                                else 1.0)
        self.spares = spares
        self.resetter = Resetter(target, image)
        self.stats: Counter[str] = Counter()
        self.discarded: list[str] = []  # why processes were thrown away
        self._idle: list[QemuBackend] = []
        self._ready: list[QemuBackend] = []
        self._cond = threading.Condition()
        self._closing = False
        self._launch_error: BaseException | None = None
        # Long-lived on purpose: a child dies with the thread that spawned it (PDEATHSIG).
        self._launcher = threading.Thread(target=self._launch_loop, daemon=True,
                                          name=f"qemu-pool-{target.name}")
        self._launcher.start()

    # -- launching ---------------------------------------------------------------------------
    def _launch(self) -> QemuBackend:
        backend = QemuBackend(self.target, self.image, self.target.name, None,
                              self.timeout_factor)
        try:
            self.resetter.record_power_on(backend)
        except BaseException:
            backend.close()
            raise
        self.stats["launched"] += 1
        return backend

    def _launch_loop(self) -> None:
        while True:
            with self._cond:
                while not self._closing and len(self._ready) >= self.spares:
                    self._cond.wait()
                if self._closing:
                    return
            try:
                backend = self._launch()
            except BaseException as exc:  # reported to the next acquire
                with self._cond:
                    self._launch_error = exc
                    self._cond.notify_all()
                    self._cond.wait(1.0)
                continue
            with self._cond:
                if self._closing:
                    backend.close()
                    return
                self._ready.append(backend)
                self._launch_error = None
                self._cond.notify_all()

    def _take_ready(self) -> QemuBackend:
        timeout = patience.limit("pool_ready", self.timeout_factor)
        with self._cond:
            if not self._cond.wait_for(lambda: self._ready or self._launch_error, timeout):
                raise DutLost(f"{self.target.name}: no emulated chip started within "
                              f"{timeout:.0f} s")
            if not self._ready:
                exc, self._launch_error = self._launch_error, None
                assert exc is not None  # wait_for returned: a backend or an error
                raise exc
            backend = self._ready.pop()
            self._cond.notify_all()  # the launcher starts the next spare
            return backend

    # -- handing out -------------------------------------------------------------------------
    def acquire(self, log_dir: Path | None = None, boot: bool = True) -> Dut:
        """A DUT at power-on state: booted (default) or halted at the reset vector."""
        backend = None
        version = None
        while backend is None and self._idle:
            candidate = self._idle.pop()
            try:
                self.resetter.clean(candidate)
                backend = candidate
                version = self.resetter.version
                self.stats["reused"] += 1
            except NotClean as exc:
                self.discarded.append(str(exc))
                self.stats["discarded"] += 1
                candidate.close()
        if backend is None:
            backend = self._take_ready()
            self.stats["fresh"] += 1
        if log_dir is not None:
            backend.log_to(log_dir)  # never raises: a log that cannot be written says so
        # a failed boot hands the chip back through release(): the next acquire proves it
        # clean or discards it
        return Dut.from_backend(backend, target=self.target, image=self.image,
                                timeout_factor=self.timeout_factor, name=backend.name,
                                boot=boot, version=version, release=self.release)

    def release(self, backend: QemuBackend) -> None:
        for con in backend.consoles.values():
            con.log.close()
        if backend.alive and not self._closing and self._park(backend):
            self._idle.append(backend)
        else:
            backend.close()

    def _park(self, backend: QemuBackend) -> bool:
        """An idle chip on chip time is halted: under ``sleep=off`` a sleeping core does not
        sleep on the host, it takes a CPU moving its clock on. (On the host's time an idle core
        sleeps in WFI for free.) False when the chip cannot be halted: it is discarded."""
        if backend.clock is None:
            return True
        try:
            backend.execution.halt()
        except Exception as exc:  # a chip that does not halt is no chip to hand out again
            self.discarded.append(f"{backend.name}: not halted when it came back ({exc})")
            self.stats["discarded"] += 1
            return False
        return True

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._launcher.join(timeout=20)
        for backend in self._idle + self._ready:
            with contextlib.suppress(Exception):
                backend.close()
        self._idle.clear()
        self._ready.clear()
