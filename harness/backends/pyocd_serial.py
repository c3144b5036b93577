"""A bench console: a serial port (a probe's VCOM, a USB-UART) or a unix socket, as a stream
socket :class:`harness.console.Console` can read.

The bench inventory names the port (``console: /dev/ttyACM0``). pyserial is imported only when a
real serial port is opened.
"""

from __future__ import annotations

import contextlib
import socket
import stat
import threading
import warnings
from pathlib import Path

from .. import patience
from ..errors import HarnessError


class SerialStream:
    """The socket calls Console uses (recv, sendall, shutdown, close) on a pyserial port."""

    def __init__(self, port: str, baud: int) -> None:
        try:
            import serial
        except ImportError:
            raise HarnessError(f"console {port}: pyserial is not installed "
                               f"(pip install pyserial)") from None
        # a URL (rfc2217://host:port, a lab's network serial port) has no cancel_read: it is
        # read with a short timeout, and recv() waits on until a byte or close()
        self.url = "://" in port
        try:
            if self.url:
                with warnings.catch_warnings():  # pyserial's RFC 2217 client calls setName()
                    warnings.simplefilter("ignore", DeprecationWarning)
                    self.port = serial.serial_for_url(port, baudrate=baud, timeout=0.2)
                _ack_at_once(self.port)
            else:
                self.port = serial.Serial(port, baud, timeout=None)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise HarnessError(f"console {port}: cannot open the serial port ({exc})") from None
        self.name = port
        self._closed = False
        self._errors: tuple[type[BaseException], ...] = (serial.SerialException, OSError)

    def recv(self, n: int) -> bytes:
        while not self._closed:
            try:
                first = self.port.read(1)  # blocks until a byte, cancel_read() or a timeout
                if first:
                    return first + self.port.read(min(n - 1, self.port.in_waiting))
            except self._errors:
                return b""  # the line went away (a lab's exporter stopped): the end
            if not self.url:
                return b""  # cancel_read(): shut down
        return b""

    def sendall(self, data: bytes) -> None:
        self.port.write(data)
        self.port.flush()

    def discard_received(self) -> None:
        """Drop what arrived so far (opened ahead of its DUT: what came before it asked)."""
        while self.port.in_waiting:
            self.port.read(self.port.in_waiting)

    def shutdown(self, _how: int) -> None:
        self._closed = True
        with contextlib.suppress(Exception):
            self.port.cancel_read()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(Exception):
            if not _close_network_port(self.port):
                self.port.close()


class _QuickAcks:
    """A network serial port's socket that acknowledges what it receives at once.

    ser2net (as labgrid's exporter starts it) sends with Nagle's algorithm on: a reply that
    leaves it in two segments sends the second only once the first is acknowledged, and Linux
    delays that ACK up to 40 ms on a connection it takes for interactive — a shell command
    through a lab place's console took 44 ms instead of ~5. A quick ACK asked for before each
    read (``TCP_QUICKACK`` does not stick; set, it also sends an ACK that is due) ends the
    wait. Everything else is the socket's own."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def recv(self, n: int, *flags: int) -> bytes:
        with contextlib.suppress(OSError):
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        return self._sock.recv(n, *flags)

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


def _ack_at_once(port) -> None:
    """Have an RFC 2217 port's reader acknowledge at once (Linux; elsewhere as it was)."""
    sock = getattr(port, "_socket", None)
    if isinstance(sock, socket.socket) and hasattr(socket, "TCP_QUICKACK"):
        port._socket = _QuickAcks(sock)


def _close_network_port(port) -> bool:
    """Close an RFC 2217 port without pyserial's 0.3 s pause "for quick reconnects" (its
    ``close()`` sleeps on every close; a test run closes a place's console once per process and
    reconnects never). False when ``port`` is not one (then ``port.close()`` does it)."""
    sock, reader = getattr(port, "_socket", None), getattr(port, "_thread", None)
    if sock is None or reader is None:
        return False
    port.is_open = False
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
    reader.join(patience.limit("socket"))
    port._thread = port._socket = None
    return True


class _Opening:
    """A network serial port being opened in a thread of its own."""

    def __init__(self, url: str, baud: int) -> None:
        self.url, self.baud = url, baud
        self.stream: SerialStream | None = None
        self.error: BaseException | None = None
        self._done = threading.Event()
        threading.Thread(target=self._open, daemon=True, name=f"console {url}").start()

    def _open(self) -> None:
        try:
            self.stream = SerialStream(self.url, self.baud)
        except BaseException as exc:  # raised by result() in the thread that takes it
            self.error = exc
        finally:
            self._done.set()

    def result(self) -> SerialStream:
        self._done.wait()
        if self.error is not None:
            raise self.error
        assert self.stream is not None
        return self.stream


_EARLY: dict[str, _Opening] = {}  # URL → its opening, until a DUT takes it
_EARLY_LOCK = threading.Lock()


def open_early(url: str, baud: int) -> None:
    """Start opening the network serial port ``url`` now, in a thread: the DUT that opens it
    next in this process takes it as it is (:func:`open_console_stream`). An RFC 2217 port's
    opening is ~0.5 s of pyserial's option negotiation, polled at 50 ms steps; a lab place's
    console is known once the place is acquired, and opened early it overlaps the imports and
    the probe's connection of the first test instead of adding to them. :func:`drop_early`
    closes one no DUT took."""
    with _EARLY_LOCK:
        if url not in _EARLY:
            _EARLY[url] = _Opening(url, baud)


def drop_early(url: str) -> None:
    """Close the port :func:`open_early` opened for ``url`` if no DUT took it; never raises."""
    with _EARLY_LOCK:
        opening = _EARLY.pop(url, None)
    if opening is not None:
        with contextlib.suppress(BaseException):
            opening.result().close()


def _take_early(where: str, baud: int) -> SerialStream | None:
    with _EARLY_LOCK:
        opening = _EARLY.pop(where, None)
    if opening is None:
        return None
    stream = opening.result()  # its error is this opening's
    try:
        stream.discard_received()  # as if opened now: pyserial's open purges what came before
        if stream.port.baudrate != baud:
            stream.port.baudrate = baud
    except Exception as exc:
        stream.close()
        raise HarnessError(f"console {where}: cannot set up the serial port ({exc})") from None
    return stream


def open_console_stream(where: str, baud: int):
    """A connected stream for ``where``: a unix socket path (emulated bench) or a serial port
    (one :func:`open_early` is opening is taken as it is)."""
    early = _take_early(where, baud)
    if early is not None:
        return early
    path = Path(where)
    if path.exists() and stat.S_ISSOCK(path.stat().st_mode):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(str(path))
        except OSError as exc:
            s.close()
            raise HarnessError(f"console {where}: cannot connect ({exc})") from None
        return s
    return SerialStream(where, baud)
