"""One RTL block in a simulator, as a test sees it: ``memory``, ``regs``, ``pins``, cycles."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ... import patience
from ...errors import DutFailure, DutLost, HarnessError
from . import wire
from .blocks import Block
from .client import BridgeClient, BusMemory, Pins
from .runner import SimulatorThread, build

if TYPE_CHECKING:
    from ...regs import Registers


def _rundir_base() -> str:
    return os.environ.get("HARNESS_RUNDIR", tempfile.gettempdir())


class Rtl:
    """A simulated block. Open with :func:`open_rtl`; close to end the simulation."""

    world = "cocotb"

    def __init__(self, block: Block, simulator: str, thread: SimulatorThread,
                 client: BridgeClient, sock_dir: Path, timeout_factor: float) -> None:
        self.block, self.simulator, self.thread = block, simulator, thread
        self.client = client
        self.name = block.name
        self._sock_dir = sock_dir
        self._timeout_factor = timeout_factor
        from ...regs import load_svd

        device = load_svd(block.svd_path.resolve())
        self.peripheral = device.peripheral(block.peripheral)
        self.memory = BusMemory(client, self.peripheral.base, self.peripheral.size)
        self.pins = Pins(client, {n: p.direction for n, p in block.pins.items()})
        self.step = "ready"
        self.outcome: str | None = None
        # the failure of a posted request that only the closing FINISH reported
        self.uncollected: HarnessError | DutFailure | None = None
        self._regs: Registers | None = None

    def __repr__(self) -> str:
        return f"<Rtl {self.name} on {self.simulator}>"

    @property
    def regs(self) -> Registers:
        """Registers of the whole SVD device over this block's memory (``rtl.regs.PWM.DUTY``)."""
        if self._regs is None:
            from ...regs import Registers

            self._regs = Registers.from_svd(self.block.svd_path, self.memory)
        return self._regs

    @property
    def base(self) -> int:
        return self.peripheral.base

    # -- time ------------------------------------------------------------------------------
    def wait_cycles(self, n: int) -> int:
        """Let ``n`` clock cycles pass; returns the cycle counter (cycles since reset)."""
        if n < 0:
            raise ValueError(f"wait_cycles({n}): cycles must be >= 0")
        self.step = f"wait_cycles({n})"
        return self.client.call(wire.WAIT, b=n)[1]

    @property
    def cycle(self) -> int:
        return self.client.call(wire.CYCLE)[1]

    def sync(self) -> int:
        """Wait until the simulator has executed every posted request (writes, pin drives);
        raises the failure of one of them. Returns the cycle counter."""
        self.step = "sync"
        return self.client.sync()

    def reset(self, cycles: int | None = None) -> None:
        """Assert the block's reset for ``cycles`` (default from the block description)."""
        self.step = "reset"
        self.client.call(wire.RESET, b=cycles or self.block.reset.cycles)

    # -- health and lifetime ---------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return not self.client.closed and self.thread.is_alive()

    @property
    def wave_file(self) -> Path | None:
        f = self.thread.wave_file
        return f if f.exists() else None

    def diagnosis(self, lines: int = 20) -> str:
        out = [f"RTL block {self.name} ({self.simulator}), last step: {self.step}, "
               f"simulator {'running' if self.thread.is_alive() else 'ended'}",
               f"run dir: {self.thread.run_dir}"]
        if self.outcome:
            out.append(f"simulation outcome: {self.outcome}")
        tail = self.thread.log_tail(lines)
        out.append(f"last {len(tail)} lines of {self.thread.log}:")
        out += [f"  | {ln}" for ln in tail] or ["  | (nothing)"]
        return "\n".join(out)

    def close(self) -> str:
        """End the simulation; returns its outcome ('passed' or what went wrong)."""
        if self.outcome is not None:
            return self.outcome
        if not self.client.closed:
            try:
                self.client.finish()
            except DutLost:
                pass
            except (HarnessError, DutFailure) as exc:  # a posted request failed, uncollected
                self.uncollected = exc
        with contextlib.suppress(OSError):
            self.client.sock.close()
        self.thread.join(patience.limit(30.0, self._timeout_factor))
        self.outcome = ("simulator still running 30 s after FINISH" if self.thread.is_alive()
                        else self.thread.outcome())
        if self.uncollected is not None and self.outcome == "passed":
            self.outcome = f"failed: a posted request failed unnoticed: {self.uncollected}"
        shutil.rmtree(self._sock_dir, ignore_errors=True)
        return self.outcome

    def __enter__(self) -> Rtl:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_rtl(block: Block, *, simulator: str = "icarus", build_root: Path, run_dir: Path,
             waves: bool = True, timeout_factor: float = 1.0,
             idle_timeout: float = 120.0) -> Rtl:
    """Build (once per worker), start the simulator, and connect to its bridge."""
    runner = build(block, simulator, build_root)
    run_dir.mkdir(parents=True, exist_ok=True)
    sock_dir = Path(tempfile.mkdtemp(prefix="rtl-", dir=_rundir_base()))
    path = sock_dir / "bridge.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    env = {"HARNESS_RTL_SOCKET": str(path), "HARNESS_RTL_BLOCK": block.bridge_env(),
           "HARNESS_RTL_TIMEOUT": str(idle_timeout * timeout_factor),
           # no pytest plugins inside the simulator: nothing there asserts
           "COCOTB_REWRITE_ASSERTION_FILES": ""}
    thread = SimulatorThread(runner, block, run_dir, env, waves=waves, simulator=simulator)
    thread.start()
    start_wait = patience.limit(60.0, timeout_factor)
    deadline = time.monotonic() + start_wait
    try:
        listener.settimeout(0.05)
        while True:
            try:
                conn, _ = listener.accept()
                break
            except TimeoutError:
                if not thread.is_alive():
                    raise DutLost(_start_failure(block, simulator, thread, "ended before "
                                                 "connecting to the bridge")) from None
                if time.monotonic() > deadline:
                    raise DutLost(_start_failure(block, simulator, thread, "did not connect "
                                                 f"within {start_wait:.0f} s")) from None
    finally:
        listener.close()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
    client = BridgeClient(conn, block.name, list(block.pins),
                          timeout=None if idle_timeout <= 0 else idle_timeout * timeout_factor)
    try:
        client.hello()
    except (OSError, ConnectionError) as exc:
        conn.close()
        thread.join(patience.limit(10.0, timeout_factor))
        raise DutLost(_start_failure(block, simulator, thread, f"hello lost: {exc}")) from None
    return Rtl(block, simulator, thread, client, sock_dir, timeout_factor)


def _start_failure(block: Block, simulator: str, thread: SimulatorThread, what: str) -> str:
    tail = "\n".join(f"  | {ln}" for ln in thread.log_tail(30)) or "  | (no output)"
    err = f" ({thread.error!r})" if thread.error else ""
    return (f"RTL block {block.name}: the {simulator} simulator {what}{err}; "
            f"log {thread.log}:\n{tail}")
