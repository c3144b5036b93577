"""pyOCD's remote probe (``remote:HOST:PORT``: ``pyocd server`` on a bench host) as the harness
uses it.

The client sends every request as JSON. pyOCD 0.46 passes a block of data through as it gets
it, and its own loader writes RAM-type regions (an emulated chip's flash among them) with a
``bytearray``: "Object of type bytearray is not JSON serializable". :func:`patch` makes the
client send such a block as the list of ints the server expects; nothing else changes.
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
    _PATCHED = True
