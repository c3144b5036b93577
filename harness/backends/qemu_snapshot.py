"""Chips restored to the moment they were ready (``--dut-reuse snapshot``): a slow boot paid once.

An RTOS or an interpreter may take long to reach its prompt, and a reset pool makes every test
wait for it again. Here each chip boots once; the instant it is ready the VM is saved with
QEMU's own ``savevm`` (every device's migratable state and all RAM, into a qcow2 drive the pool
creates per chip), and each following test gets it back with ``loadvm``: the core, memory and
peripherals as they were, the console's output so far replayed into its buffer, gdbstub
breakpoints dropped. Whatever cannot be restored (a QEMU that died, a console stuck with
unread input) is discarded for a chip booted anew. ``no_boot`` tests still get a cold chip at
the reset vector from the reset pool.

Which boards QEMU 7.2 restores faithfully is board knowledge: a profile's ``snapshots`` field
(``harness boards``); elsewhere the run uses the reset pool and says so once.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..config import Target
from ..dut import Dut
from ..emu.process import rundir_base
from ..errors import HarnessError, ToolMissing
from ..firmware import FirmwareImage, VersionInfo
from ..worlds import Pool
from .clean import NotClean, settle_console
from .qemu import QemuBackend

TAG = "ready"


@dataclass
class _Saved:
    backend: QemuBackend
    transcripts: dict[str, str]  # console name → what it had printed when saved
    version: VersionInfo | None


class SnapshotPool(Pool):
    def __init__(self, target: Target, image: FirmwareImage, timeout_factor: float = 1.0,
                 cold: Pool | None = None, hand_out_halted: bool = False) -> None:
        """``cold``: the pool ``no_boot`` tests come from. ``hand_out_halted``: give chips
        out halted right after the restore (for proofs that compare snapshots)."""
        if shutil.which("qemu-img") is None:
            raise ToolMissing("qemu-img", "qemu-utils", "--dut-reuse snapshot")
        self.target = target
        self.image = image
        self.timeout_factor = timeout_factor * (target.qemu.timeout_factor if target.qemu
                                                else 1.0)
        self.cold = cold
        self.hand_out_halted = hand_out_halted
        self.stats: Counter[str] = Counter()
        self.discarded: list[str] = []
        self._dir = Path(tempfile.mkdtemp(prefix="qsm-snap-", dir=rundir_base()))
        self._idle: list[_Saved] = []
        self._out: dict[int, _Saved] = {}
        self._made = 0

    # -- a chip's first boot -----------------------------------------------------------------
    def _drive_target(self) -> Target:
        """The target with a qcow2 drive of its own for QEMU to keep its snapshot in."""
        self._made += 1
        drive = self._dir / f"chip{self._made}.qcow2"
        proc = subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(drive), "1M"],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise HarnessError(f"qemu-img could not create {drive}: {proc.stderr.strip()}")
        assert self.target.qemu is not None
        args = [*self.target.qemu.extra_args, "-drive",
                f"if=none,format=qcow2,file={drive},id=harness-snapshots"]
        return self.target.model_copy(
            update={"qemu": self.target.qemu.model_copy(update={"extra_args": args})})

    def _boot_and_save(self, log_dir: Path | None) -> Dut:
        backend = QemuBackend(self._drive_target(), self.image, self.target.name, log_dir,
                              self.timeout_factor)
        dut = Dut.from_backend(backend, target=self.target, image=self.image,
                               timeout_factor=self.timeout_factor, name=backend.name,
                               release=self.release)  # booted: ready and identity checked
        try:
            backend.execution.halt()
            backend.qmp.save_snapshot(TAG)
            saved = _Saved(backend, {n: c.text for n, c in backend.consoles.items()},
                           dut.running_version)
        except BaseException:
            dut.close()
            backend.close()
            raise
        self._out[id(backend)] = saved
        self.stats["booted"] += 1
        if not self.hand_out_halted:  # else it stays exactly as saved, for a proof to read
            backend.execution.resume()
        return dut

    # -- each following test -----------------------------------------------------------------
    def _restore(self, saved: _Saved) -> None:
        backend = saved.backend
        if not backend.alive:
            raise NotClean(backend.diagnosis())
        backend.execution.halt()
        backend.rsp.clear_all_breakpoints()  # gdbstub state: not part of the VM's
        for name, con in backend.consoles.items():
            settle_console(backend.name, name, con, backend.process.consoles.get(name))
        backend.qmp.load_snapshot(TAG)
        for name, con in backend.consoles.items():
            con.replay(saved.transcripts.get(name, ""))
        if not self.hand_out_halted:
            backend.execution.resume()

    def acquire(self, log_dir: Path | None = None, boot: bool = True) -> Dut:
        """A chip at the moment it was ready (``boot=False``: a cold one at the reset vector,
        from the reset pool)."""
        if not boot:
            if self.cold is None:
                raise HarnessError(f"{self.target.name}: no cold pool for a no_boot test")
            return self.cold.acquire(log_dir, boot=False)
        while self._idle:
            saved = self._idle.pop()
            try:
                self._restore(saved)
            except HarnessError as exc:
                self.discarded.append(str(exc))
                self.stats["discarded"] += 1
                saved.backend.close()
                continue
            self.stats["restored"] += 1
            if log_dir is not None:
                saved.backend.log_to(log_dir)
                for con in saved.backend.consoles.values():
                    con.log.note("restored from a snapshot taken when the chip was ready")
            self._out[id(saved.backend)] = saved
            dut = Dut.from_backend(saved.backend, target=self.target, image=self.image,
                                   timeout_factor=self.timeout_factor,
                                   name=saved.backend.name, boot=False, release=self.release)
            dut.running_version = saved.version
            dut.step = "ready (restored)"
            return dut
        return self._boot_and_save(log_dir)

    def release(self, backend: QemuBackend) -> None:
        saved = self._out.pop(id(backend), None)
        for con in backend.consoles.values():
            con.log.close()
        if saved is not None and backend.alive:
            self._idle.append(saved)
        else:
            backend.close()

    def close(self) -> None:
        for saved in [*self._idle, *self._out.values()]:
            with contextlib.suppress(Exception):
                saved.backend.close()
        self._idle.clear()
        self._out.clear()
        if self.cold is not None:
            self.cold.close()
        shutil.rmtree(self._dir, ignore_errors=True)
