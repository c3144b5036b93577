"""Serve a virtual instrument over raw SCPI on loopback TCP (port 0: the OS picks)."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading

from .instrument import VirtualInstrument


class _Handler(socketserver.StreamRequestHandler):
    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        inst: VirtualInstrument = self.server.instrument  # type: ignore[attr-defined]
        for raw in self.rfile:
            line = raw.decode("ascii", errors="replace").strip()
            if not line or inst.stalled:
                continue
            answer = inst.handle(line)
            if answer is not None:
                self.wfile.write(answer.encode() + b"\n")
                self.wfile.flush()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False


class ScpiServer:
    """One instrument on ``127.0.0.1:<port>``; ``resource`` is its VISA resource string."""

    def __init__(self, instrument: VirtualInstrument, host: str = "127.0.0.1") -> None:
        self.instrument = instrument
        self._server = _Server((host, 0), _Handler)
        self._server.instrument = instrument  # type: ignore[attr-defined]
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"scpi-{instrument.model}-{self.port}",
                                        daemon=True)
        self._thread.start()

    @property
    def resource(self) -> str:
        return f"TCPIP::{self.host}::{self.port}::SOCKET"

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=2)

    def __enter__(self) -> ScpiServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
