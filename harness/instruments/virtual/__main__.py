"""Serve virtual instruments until Ctrl-C or SIGTERM, for pyvisa-shell or any SCPI client:

    .venv/bin/python -m harness.instruments.virtual keysight-e36312a rigol-dp832
    .venv/bin/python -m harness.instruments.virtual --serial rigol-dp832   # on a pty (ASRL)

A serial port is paced at the speed its client sets on the line (``--baud`` fixes it).

``--wired-to MONITOR --image ELF`` wires them to an emulated chip, as on a bench: readings follow
the board the chip drives (supply current, frequency output, speed reference), read through
QEMU's monitor socket (``python -m harness.probes.launch`` prints it); ``--image`` is the
firmware the chip runs (its symbols say where the board's outputs are).
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from .lab import MODELS
from .server import PtyServer, ScpiServer


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m harness.instruments.virtual",
                                 description="serve virtual SCPI instruments on loopback")
    ap.add_argument("models", nargs="+", choices=sorted(MODELS))
    ap.add_argument("--serial", action="store_true",
                    help="serve on pseudo-terminals (ASRL resources) instead of TCP")
    ap.add_argument("--baud", type=int, default=None,
                    help="with --serial: pace the line at this speed, whatever the client "
                         "sets (default: the speed the client sets)")
    ap.add_argument("--wired-to", type=Path, default=None, metavar="MONITOR",
                    help="QEMU monitor socket of the emulated chip the instruments are wired to")
    ap.add_argument("--image", type=Path, default=None, metavar="ELF",
                    help="with --wired-to: the firmware the chip runs")
    ap.add_argument("--name", default="bench", help="the bench's name (in readings' logs)")
    args = ap.parse_args(argv)
    if (args.wired_to is None) != (args.image is None):
        ap.error("--wired-to and --image go together")
    signals = None
    if args.wired_to is not None:
        from ...firmware import load_image
        from .coupling import DutSignals
        from .monitor import MonitorDut

        signals = DutSignals(MonitorDut(args.name, load_image(args.image), args.wired_to))
    servers: list[PtyServer | ScpiServer] = []
    for i, m in enumerate(args.models):
        inst = MODELS[m](serial=f"VIRT{i:05d}")
        if signals is not None:
            inst.couple(signals)
        servers.append(PtyServer(inst, args.baud) if args.serial else ScpiServer(inst))
    for m, s in zip(args.models, servers, strict=True):
        print(f"{m:18} {s.resource}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):  # until Ctrl-C or SIGTERM
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for s in servers:
            s.close()


if __name__ == "__main__":
    main()
