"""Serve virtual instruments until Ctrl-C or SIGTERM, for pyvisa-shell or any SCPI client:

    .venv/bin/python -m harness.instruments.virtual keysight-e36312a rigol-dp832
    .venv/bin/python -m harness.instruments.virtual --serial rigol-dp832   # on a pty (ASRL)

A serial port is paced at the speed its client sets on the line (``--baud`` fixes it).
"""

from __future__ import annotations

import argparse
import signal
import threading

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
    args = ap.parse_args(argv)
    servers: list[PtyServer | ScpiServer] = []
    for i, m in enumerate(args.models):
        inst = MODELS[m](serial=f"VIRT{i:05d}")
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
