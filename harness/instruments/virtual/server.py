"""Serve a virtual instrument over raw SCPI: on loopback TCP (port 0: the OS picks), like
an LXI instrument's socket port, or on a pseudo-terminal, like an RS-232 instrument's serial
port (the resource is ``ASRL/dev/pts/N::INSTR``; pyvisa-py opens it with pyserial)."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import socketserver
import threading
import tty

from ..errors import InstrumentError
from .instrument import VirtualInstrument


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        inst = self.server.instrument
        for raw in self.rfile:
            answer = _answer(inst, raw)
            if answer is not None:
                self.wfile.write(answer)
                self.wfile.flush()


def _answer(inst: VirtualInstrument, raw: bytes) -> bytes | None:
    """The reply line to one received line (None: nothing to send back)."""
    line = raw.decode("ascii", errors="replace").strip()
    if not line or inst.stalled:
        return None
    answer = inst.handle(line)
    return None if answer is None else answer.encode() + b"\n"


class _Server(socketserver.ThreadingTCPServer):
    """Serves ``instrument`` to every connection (the handlers share it)."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], instrument: VirtualInstrument) -> None:
        super().__init__(address, _Handler)
        self.instrument = instrument


class ScpiServer:
    """One instrument on ``127.0.0.1:<port>``; ``resource`` is its VISA resource string."""

    def __init__(self, instrument: VirtualInstrument, host: str = "127.0.0.1") -> None:
        self.instrument = instrument
        self._server = _Server((host, 0), instrument)
        bound, self.port = self._server.server_address[:2]
        assert isinstance(bound, str)  # the socket's own address, as getsockname() gives it
        self.host = bound
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


class PtyServer:
    """One instrument on a pseudo-terminal; ``resource`` is its VISA ASRL resource string.
    The pty has no baud rate: line settings are accepted and have no effect."""

    def __init__(self, instrument: VirtualInstrument) -> None:
        self.instrument = instrument
        try:
            self._master, self._slave = os.openpty()
        except OSError as exc:
            raise InstrumentError(f"virtual {instrument.model}: cannot open a pseudo-terminal "
                                  f"for its serial port ({exc}); is /dev/pts mounted?") from None
        tty.setraw(self._slave)  # no echo, no line editing: bytes as an instrument sends them
        self.path = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"scpi-{instrument.model}-"
                                        f"{os.path.basename(self.path)}", daemon=True)
        self._thread.start()

    @property
    def resource(self) -> str:
        return f"ASRL{self.path}::INSTR"

    def _serve(self) -> None:
        pending = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                pending += os.read(self._master, 4096)
            except OSError:
                return
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                answer = _answer(self.instrument, raw)
                if answer is not None:
                    os.write(self._master, answer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> PtyServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
