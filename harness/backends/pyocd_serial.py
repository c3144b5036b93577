"""A bench console: a serial port (a probe's VCOM, a USB-UART) or a unix socket, as a stream
socket :class:`harness.console.Console` can read.

The bench inventory names the port (``console: /dev/ttyACM0``). pyserial is imported only when a
real serial port is opened.
"""

from __future__ import annotations

import contextlib
import socket
import stat
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

    def shutdown(self, _how: int) -> None:
        self._closed = True
        with contextlib.suppress(Exception):
            self.port.cancel_read()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(Exception):
            if not _close_network_port(self.port):
                self.port.close()


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


def open_console_stream(where: str, baud: int):
    """A connected stream for ``where``: a unix socket path (emulated bench) or a serial port."""
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
