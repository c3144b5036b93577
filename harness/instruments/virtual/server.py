"""Serve a virtual instrument over raw SCPI: on loopback TCP (port 0: the OS picks), like
an LXI instrument's socket port, or on a pseudo-terminal, like an RS-232 instrument's serial
port (the resource is ``ASRL/dev/pts/N::INSTR``; pyvisa-py opens it with pyserial).

No call of a server blocks without a bound: reads poll a stop flag every ``POLL`` seconds, an
answer nobody reads is dropped after ``SEND_TIMEOUT``, a line longer than ``MAX_LINE`` without
a terminator is discarded, and ``close`` joins every thread it started with a timeout. A
client that disconnects, also in the middle of a query, ends only its own connection.
"""

from __future__ import annotations

import contextlib
import os
import queue
import select
import socket
import termios
import threading
import time
import tty

from ..errors import InstrumentError
from .instrument import VirtualInstrument

_SPEEDS = {getattr(termios, f"B{rate}"): rate for rate in (
    50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600,
    115200, 230400, 460800, 500000, 576000, 921600, 1000000, 1152000, 1500000, 2000000,
    2500000, 3000000, 3500000, 4000000) if hasattr(termios, f"B{rate}")}
_DATA_BITS = {termios.CS5: 5, termios.CS6: 6, termios.CS7: 7, termios.CS8: 8}

POLL = 0.05          # s, how often a waiting server thread looks at its stop flag
PACE_MIN = 0.0005    # s, the shortest sleep between bytes paced onto a serial line
DEFAULT_BAUD = 9600  # a serial line whose speed the terminal does not report
SEND_TIMEOUT = 5.0   # s, an answer the client does not take within this is dropped
MAX_LINE = 65536     # bytes without a line terminator: not a command, discarded
JOIN_TIMEOUT = 2.0   # s, per thread, when a server closes


def _answer(inst: VirtualInstrument, raw: bytes, stop: threading.Event) -> bytes | None:
    """The reply line to one received line (None: nothing to send back).

    A stalled instrument ignores the line; with ``answer_delay`` the answer is held back that
    long (less if the server stops meanwhile: then there is no answer).
    """
    line = raw.decode("ascii", errors="replace").strip()
    if not line or inst.stalled:
        return None
    answer = inst.handle(line)
    if answer is None:
        return None
    if inst.answer_delay > 0 and stop.wait(inst.answer_delay):
        return None
    return answer.encode() + b"\n"


def _lines(pending: bytes, chunk: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines of ``pending + chunk`` and what is left (dropped when it grew too long)."""
    *lines, rest = (pending + chunk).split(b"\n")
    return lines, b"" if len(rest) > MAX_LINE else rest


class _Connection:
    """One client of a ScpiServer, served on a thread of its own."""

    def __init__(self, server: ScpiServer, conn: socket.socket, peer: str) -> None:
        self.server = server
        self.conn = conn
        self.thread = threading.Thread(target=self._serve, daemon=True,
                                       name=f"scpi-{server.instrument.model}-{server.port}-"
                                            f"{peer}")

    def _serve(self) -> None:
        try:
            self._loop()
        except Exception:  # a broken connection ends this client, not the server
            pass
        finally:
            with contextlib.suppress(OSError):
                self.conn.close()
            self.server._forget(self)

    def _loop(self) -> None:
        conn, stop = self.conn, self.server._stop
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pending = b""
        while not stop.is_set():
            ready = select.select([conn], [], [], POLL)[0]
            if not ready:
                continue
            chunk = conn.recv(4096)
            if not chunk:  # the client went away (perhaps in the middle of a query)
                return
            lines, pending = _lines(pending, chunk)
            for raw in lines:
                answer = _answer(self.server.instrument, raw, stop)
                if answer is not None and not self._send(answer):
                    return

    def _send(self, data: bytes) -> bool:
        """False when the client is gone or does not read (the connection then ends)."""
        deadline = time.monotonic() + SEND_TIMEOUT
        while data:
            left = deadline - time.monotonic()
            if left <= 0 or self.server._stop.is_set():
                return False
            if not select.select([], [self.conn], [], min(left, POLL))[1]:
                continue
            try:
                sent = self.conn.send(data, socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue
            except OSError:  # reset or broken pipe: the client disconnected
                return False
            data = data[sent:]
        return True


class ScpiServer:
    """One instrument on ``127.0.0.1:<port>``; ``resource`` is its VISA resource string."""

    def __init__(self, instrument: VirtualInstrument, host: str = "127.0.0.1") -> None:
        self.instrument = instrument
        self._listener = socket.create_server((host, 0))
        bound, self.port = self._listener.getsockname()[:2]
        self.host = bound
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._clients: set[_Connection] = set()
        self._thread = threading.Thread(target=self._accept,
                                        name=f"scpi-{instrument.model}-{self.port}",
                                        daemon=True)
        self._thread.start()

    @property
    def resource(self) -> str:
        return f"TCPIP::{self.host}::{self.port}::SOCKET"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                if not select.select([self._listener], [], [], POLL)[0]:
                    continue
                conn, peer = self._listener.accept()
            except (OSError, ValueError):  # closed under us, or a client that gave up
                if self._stop.is_set():
                    return
                continue
            client = _Connection(self, conn, str(peer[1]))
            with self._lock:
                if self._stop.is_set():
                    conn.close()
                    return
                self._clients.add(client)
            client.thread.start()

    def _forget(self, client: _Connection) -> None:
        with self._lock:
            self._clients.discard(client)

    @property
    def clients(self) -> int:
        """Connections being served now."""
        with self._lock:
            return len(self._clients)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(JOIN_TIMEOUT)
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            client.thread.join(JOIN_TIMEOUT)

    def __enter__(self) -> ScpiServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class PtyServer:
    """One instrument on a pseudo-terminal; ``resource`` is its VISA ASRL resource string.

    Bytes move at the line's speed, both ways, like on an RS-232 cable: a character frame is
    a start bit, the data bits, the parity bit if any and the stop bits (10 bits at 8N1), so
    at 9600 baud a byte takes ~1.04 ms and an answer of 60 bytes ~62 ms. The speed and frame
    are the ones the client set on the line (pyserial sets them from the bench inventory's
    ``serial:`` settings through the terminal's attributes), read for every line received and
    answered; ``baud_rate`` fixes the speed instead. A command is executed once its last byte
    has arrived, and its answer reaches the client byte by byte. A line the client left at a
    speed the terminal cannot report is paced at ``DEFAULT_BAUD``.

    The server keeps the terminal's port side open, so a client may come and go: what it
    sent is answered whether or not it is still there to read, and answers nobody reads are
    discarded after ``SEND_TIMEOUT`` (like a serial line whose other end is unplugged).
    """

    def __init__(self, instrument: VirtualInstrument, baud_rate: int | None = None) -> None:
        self.instrument = instrument
        self.baud_rate = baud_rate
        try:
            self._master, self._slave = os.openpty()
        except OSError as exc:
            raise InstrumentError(f"virtual {instrument.model}: cannot open a pseudo-terminal "
                                  f"for its serial port ({exc}); is /dev/pts mounted?") from None
        tty.setraw(self._slave)  # no echo, no line editing: bytes as an instrument sends them
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self._stop = threading.Event()
        # (line, monotonic time its last byte arrived), from the reader to the responder
        self._received: queue.Queue[tuple[bytes, float]] = queue.Queue()
        self._rx_free = 0.0  # when the incoming line is done with the bytes received so far
        self._tx_free = 0.0  # when the outgoing line is done with the bytes sent so far
        name = f"scpi-{instrument.model}-{os.path.basename(self.path)}"
        self._threads = [threading.Thread(target=self._read, name=f"{name}-rx", daemon=True),
                         threading.Thread(target=self._respond, name=name, daemon=True)]
        for t in self._threads:
            t.start()

    @property
    def resource(self) -> str:
        return f"ASRL{self.path}::INSTR"

    def byte_time(self) -> float:
        """Seconds one character takes on the line now."""
        baud, bits = line_settings(self._slave)
        return bits / (self.baud_rate or baud)

    def _read(self) -> None:
        """Receive bytes, stamping each line with the time its last byte arrived."""
        pending = b""
        while not self._stop.is_set():
            try:
                if not select.select([self._master], [], [], POLL)[0]:
                    continue
                chunk = os.read(self._master, 4096)
            except BlockingIOError:
                continue
            except (OSError, ValueError):
                return
            per_byte = self.byte_time()
            start = max(time.monotonic(), self._rx_free)
            self._rx_free = start + len(chunk) * per_byte
            offset = -len(pending)  # where ``chunk`` starts in pending + chunk
            lines, pending = _lines(pending, chunk)
            for raw in lines:
                offset += len(raw) + 1
                self._received.put((raw, start + offset * per_byte))

    def _respond(self) -> None:
        while not self._stop.is_set():
            try:
                raw, arrived = self._received.get(timeout=POLL)
            except queue.Empty:
                continue
            if self._stop.wait(max(0.0, arrived - time.monotonic())):
                return
            answer = _answer(self.instrument, raw, self._stop)
            if answer is not None:
                self._send(answer)

    def _send(self, data: bytes) -> None:
        """Send ``data`` at the line's speed: byte k leaves once k+1 byte times passed."""
        per_byte = self.byte_time()
        start = max(time.monotonic(), self._tx_free)
        done = start + len(data) * per_byte
        self._tx_free = done
        sent = 0
        while sent < len(data) and not self._stop.is_set():
            now = time.monotonic()
            due = min(len(data), int((now - start) / per_byte))
            if due <= sent:  # the next byte is still on the wire: wait for it (>= PACE_MIN)
                self._stop.wait(max(PACE_MIN, start + (sent + 1) * per_byte - now))
                continue
            try:
                if not select.select([], [self._master], [], POLL)[1]:
                    if now > done + SEND_TIMEOUT:  # nobody reads the port: drop what waits
                        with contextlib.suppress(OSError, termios.error):  # in its buffer
                            termios.tcflush(self._slave, termios.TCIFLUSH)
                        return
                    continue
                sent += os.write(self._master, data[sent:due])
            except BlockingIOError:
                continue
            except (OSError, ValueError):
                return

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(JOIN_TIMEOUT)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> PtyServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def line_settings(fd: int) -> tuple[int, int]:
    """(baud rate, bits per character) the terminal ``fd`` is set to; ``DEFAULT_BAUD`` when
    its speed is not a standard one (or cannot be read), 8N1 when its frame cannot be read."""
    try:
        _, _, cflag, _, ispeed, ospeed, _ = termios.tcgetattr(fd)
    except (OSError, termios.error):
        return DEFAULT_BAUD, 10
    baud = _SPEEDS.get(ospeed) or _SPEEDS.get(ispeed) or DEFAULT_BAUD
    data = _DATA_BITS.get(cflag & termios.CSIZE, 8)
    parity = 1 if cflag & termios.PARENB else 0
    stop = 2 if cflag & termios.CSTOPB else 1
    return baud, 1 + data + parity + stop
