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

The machinery (run dir, sockets, locks, the registry of in-process chips) is in
:mod:`harness.probes.chips`; its names are re-exported here for the code that imported them
from this module.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
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
    args = p.parse_args(argv)
    served = serve(args.machine, args.kernel, log_dir=args.log_dir)
    print(f"probe   {served.uid}", flush=True)
    print(f"console {served.console}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    died = False
    try:
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
        served.close()
    return 1 if died else 0


if __name__ == "__main__":
    raise SystemExit(main())
