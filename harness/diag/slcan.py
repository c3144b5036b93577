"""Open python-can's ``slcan`` interface on a chip's channel.

The channel is a pyserial URL: ``socket://127.0.0.1:PORT`` for an emulator's serial chardev,
or a serial device (``/dev/ttyACM0``) for a USB SLCAN adapter on a bench.
"""

from __future__ import annotations

import contextlib
import socket
from typing import TYPE_CHECKING

from ..errors import HarnessError

if TYPE_CHECKING:
    from can.interfaces.slcan import slcanBus


class CanChannelError(HarnessError):
    """The CAN channel could not be opened or used."""


def open_slcan(channel: str, bitrate: int | None = 500_000, timeout: float = 0.001
               ) -> slcanBus:
    """A started ``can.interfaces.slcan.slcanBus``; the caller shuts it down.

    ``sleep_after_open=0``: python-can's default waits 2 s for an adapter's boot. On a socket,
    Nagle is turned off (pyserial does not): a segmented ISO-TP message otherwise waits for
    delayed ACKs (~40 ms per frame).
    """
    import can
    from can.interfaces.slcan import slcanBus

    try:
        bus = can.Bus(interface="slcan", channel=channel, bitrate=bitrate,
                      sleep_after_open=0, timeout=timeout)
    except Exception as exc:  # python-can wraps serial errors in CanInitializationError
        raise CanChannelError(f"cannot open SLCAN channel {channel!r}: {exc}") from exc
    assert isinstance(bus, slcanBus)  # what python-can's "slcan" interface makes
    port = bus.serialPortOrig
    sock = getattr(port, "_socket", None)
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        port.close = lambda: _close_socket(port)  # type: ignore[method-assign]
    return bus


def _close_socket(port) -> None:
    """Close a ``socket://`` port at once. pyserial's own close then sleeps 0.3 s "for quick
    reconnects", which nothing here needs: an emulator's chardev takes the next connection
    straight away (that sleep was most of an emulated CAN test's teardown)."""
    sock, port._socket = port._socket, None
    port.is_open = False
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


def quiesce(bus: slcanBus, timeout: float = 1.0) -> bool:
    """Make sure the device has consumed everything sent so far: ask for its version (``V``)
    and read until the answer comes (frames before it are dropped). A channel left with bytes
    the chip never read would hand them to its next boot. False when no answer came (the
    chip is halted or dead)."""
    import time

    port = bus.serialPortOrig
    deadline = time.monotonic() + timeout
    try:
        port.write(b"V\r")
        port.flush()
        buf = bytearray()
        while time.monotonic() < deadline:
            chunk = port.read(max(1, port.in_waiting))
            if chunk:
                buf += chunk
                lines = bytes(buf).split(b"\r")
                if any(line.lstrip(b"\a").startswith(b"V") and len(line.lstrip(b"\a")) == 5
                       for line in lines[:-1]):
                    return True
        return False
    except Exception:
        return False
