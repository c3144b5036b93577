"""``python -m harness.probes.launch``: an emulated chip for pyOCD's own command line.

Starts QEMU halted, with its gdbstub and UART0 as unix sockets in a run dir, prints the probe id
(``qemu:<run dir>/gdb.sock``) and the console socket, and runs until interrupted.

**Lockup is a state, not a crash.** QEMU 7.2 does not model a Cortex-M lockup: a core that
faults with no usable HardFault handler (a blank or erased chip being run or reset) makes QEMU
abort (``qemu: fatal: Lockup: can't escalate 3 to HardFault``). Two parts make the emulated chip
behave as silicon does instead:

1. the probe does not let such a core run (:mod:`harness.probes.debug_unit`): a core whose
   vector table has no usable HardFault handler (blank, erased, not Thumb code) enters the
   lockup state when resumed, stepped or reset — QEMU stays alive and halted,
   DHCSR reads S_LOCKUP (pyOCD shows "Locked up"), flash keeps its contents, and a halt, a
   reset or ``pyocd flash`` brings it back, as on a real part;
2. should QEMU die anyway (a lockup the probe cannot foresee, a crash, a kill), this launcher
   prints why — the exit status and QEMU's own message, its log kept in ``--log-dir`` or beside
   the run dir, never deleted — and starts a new QEMU behind the same sockets, so the same probe
   id keeps working (it says so; the new chip's flash is blank, or ``--kernel`` again).
   ``--no-restart`` exits instead (status 1).

It also prints ``monitor <run dir>/qmp.sock``: QEMU's QMP monitor, for the bench's own tools
(virtual instruments wired to this chip: ``python -m harness.instruments.virtual --wired-to``).

``--chip-time`` runs the chip on chip time (QEMU's ``-icount shift=N,sleep=off``, N the board
profile's ``chip_time_shift``) and prints ``cycles N ns`` (the chip time of one cycle): the
probe's DWT then counts one cycle per instruction-time (:mod:`harness.probes.dwt`), so
``pyocd commander ... read32 0xE0001004`` reads an exact, host-independent cycle count.
Without it the DWT says the part has no cycle counter (DWT_CTRL.NOCYCCNT).

``--console-pty`` relays UART0's socket to a pseudo-terminal and prints ``console /dev/pts/N``
instead: a tool that wants a serial device (ser2net under a labgrid exporter) opens that. The
relay holds the terminal's other end open, so a client may come and go; chip output nobody
reads waits in the terminal's buffer (about 4 KiB; more is dropped, never blocking the chip),
and the relay reconnects when a restarted QEMU opens a new socket.

The machinery (run dir, sockets, locks, the registry of in-process chips) is in
:mod:`harness.probes.chips`; its names are re-exported here for the code that imported them
from this module.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import selectors
import signal
import socket
import sys
import threading
import tty
from pathlib import Path

from .chips import (  # noqa: F401 (re-exported)
    SERVED_PREFIX,
    LocalQemu,
    Served,
    local,
    local_ids,
    register,
    serve,
    served_sockets,
    unregister,
)


class PtyRelay:
    """UART0's unix socket relayed both ways to a pseudo-terminal (:attr:`name`)."""

    def __init__(self, console: Path, stop: threading.Event) -> None:
        self.console, self.stop = console, stop
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # no echo, no line editing: bytes pass unchanged
        os.set_blocking(self.master, False)
        self.name = os.ttyname(self.slave)
        self.thread = threading.Thread(target=self._run, name="console-pty", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                try:
                    sock.connect(str(self.console))
                except OSError:  # QEMU restarting: its socket comes back
                    self.stop.wait(0.05)
                    continue
                self._pump(sock)

    def _pump(self, sock: socket.socket) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(sock, selectors.EVENT_READ)
            sel.register(self.master, selectors.EVENT_READ)
            while not self.stop.is_set():
                for key, _ in sel.select(0.2):
                    if key.fileobj is sock:
                        data = sock.recv(4096)
                        if not data:
                            return
                        with contextlib.suppress(BlockingIOError):
                            os.write(self.master, data)  # a full terminal drops the rest
                        continue
                    try:
                        data = os.read(self.master, 4096)
                    except (BlockingIOError, OSError):
                        continue
                    try:
                        sock.sendall(data)
                    except OSError:
                        return

    def close(self) -> None:
        self.stop.set()
        self.thread.join(1.0)
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m harness.probes.launch",
        description="Start an emulated chip for pyOCD's command line; prints its probe id "
                    "and console socket, runs until interrupted.")
    p.add_argument("--machine", default="lm3s6965evb", help="QEMU board (default lm3s6965evb)")
    p.add_argument("--kernel", type=Path, default=None,
                   help="ELF to preload (default: none, flash it with pyocd flash)")
    p.add_argument("--log-dir", type=Path, default=None,
                   help="where QEMU's log is kept if QEMU dies (default: beside the run dir)")
    p.add_argument("--no-restart", action="store_true",
                   help="exit (status 1) when QEMU dies instead of starting a new one")
    p.add_argument("--console-pty", action="store_true",
                   help="relay the console to a pseudo-terminal and print its /dev/pts path")
    p.add_argument("--chip-time", action="store_true",
                   help="run on QEMU's instruction counter (-icount, the board's "
                        "chip_time_shift): the DWT's CYCCNT counts exact chip cycles")
    args = p.parse_args(argv)
    shift = None
    if args.chip_time:
        from ..emu import icount

        try:
            problems = icount.problems(args.machine, f"--machine {args.machine}")
        except ValueError as exc:  # no such board profile
            p.error(str(exc))
        if problems:
            p.error("; ".join(problems))
        shift = icount.board_shift(args.machine)
    served = serve(args.machine, args.kernel, log_dir=args.log_dir, shift=shift)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    died = False
    relay = None
    try:
        if args.console_pty:
            relay = PtyRelay(served.console, threading.Event())
        print(f"probe   {served.uid}", flush=True)
        print(f"console {relay.name if relay else served.console}", flush=True)
        print(f"monitor {served.monitor}", flush=True)
        if shift is not None:
            print(f"cycles  {1 << shift} ns", flush=True)
        while not stop.is_set():
            stop.wait(0.2)
            report = served.exit_report()
            if report is None or stop.is_set():
                continue
            print(report, file=sys.stderr, flush=True)
            if args.no_restart:
                died = True
                break
            served.restart()
            print(f"restarted QEMU behind the same probe id {served.uid} (restart "
                  f"{served.restarts}); the chip's flash is "
                  f"{'the --kernel image' if args.kernel else 'blank'} again", file=sys.stderr,
                  flush=True)
    finally:
        if relay is not None:
            relay.close()
        served.close()
    return 1 if died else 0


if __name__ == "__main__":
    raise SystemExit(main())
