"""pyOCD's remote probe (``remote:HOST:PORT``: ``pyocd server`` on a bench host) as the harness
uses it.

The client sends every request as JSON. pyOCD 0.46 passes a block of data through as it gets
it, and its own loader writes RAM-type regions (an emulated chip's flash among them) with a
``bytearray``: "Object of type bytearray is not JSON serializable". :func:`patch` makes the
client send such a block as the list of ints the server expects.

Its socket's ``readline`` also waits for a reply forever: it retries a timed-out read without
end, and a server that went away (its bench host died) makes every read return nothing at once,
so the loop spins a CPU for good — a test process on a lost lab place never ended. Patched, a
closed connection raises ``ProbeDisconnected`` and a reply that does not come within the
``remote_reply`` wait (scaled like every harness wait) raises ``TransferTimeoutError``.
"""

from __future__ import annotations

import functools

_PATCHED = False


def patch() -> None:
    """Once per process: blocks of bytes go to a remote probe as lists."""
    global _PATCHED
    if _PATCHED:
        return
    from pyocd.probe.tcp_client_probe import RemoteMemoryInterface

    for name in ("write_memory_block8", "write_memory_block32"):
        original = getattr(RemoteMemoryInterface, name)

        @functools.wraps(original)
        def write(self, addr, data, _original=original, **attrs):
            if isinstance(data, (bytes, bytearray, memoryview)):
                data = list(data)
            return _original(self, addr, data, **attrs)

        setattr(RemoteMemoryInterface, name, write)
    from pyocd.utility.sockets import ClientSocket

    ClientSocket.readline = _readline
    _PATCHED = True


def _readline(self) -> bytearray:
    """One line from a pyocd server: bounded, and an error when the server is gone."""
    import time

    from pyocd.core import exceptions

    from .. import patience

    limit = patience.limit("remote_reply")
    deadline = time.monotonic() + limit
    while True:
        end = self._buffer.find(b"\n")
        if end != -1:
            line = self._buffer[:end + 1]
            del self._buffer[:end + 1]
            return line
        try:
            data = self.read()
        except TimeoutError:
            if time.monotonic() > deadline:
                raise exceptions.TransferTimeoutError(
                    f"pyocd server {self._address[0]}:{self._address[1]}: no reply within "
                    f"{limit:.0f} s") from None
            continue
        except OSError as exc:
            raise exceptions.ProbeDisconnected(
                f"pyocd server {self._address[0]}:{self._address[1]}: {exc}") from None
        if not data:
            raise exceptions.ProbeDisconnected(
                f"pyocd server {self._address[0]}:{self._address[1]} closed the connection")
        self._buffer += data
