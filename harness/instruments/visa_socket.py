"""The socket behind a pyvisa-py raw TCP SOCKET resource, for a session that reads and writes it
itself with deadlines (see :mod:`.scpi`): pyvisa-py 0.8 waits for a writable socket without a
timeout, spins on a connection the instrument closed, and leaves Nagle on."""

from __future__ import annotations

import contextlib
import select
import socket
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyvisa.resources import MessageBasedResource


def socket_of(res: MessageBasedResource,
               term: bytes) -> tuple[object | None, socket.socket | None]:
    """pyvisa-py's session object behind a raw TCP SOCKET resource and its socket, else None.

    The session then reads and writes that socket itself, through pyvisa-py's own buffer of
    received bytes: pyvisa-py 0.8 waits for a writable socket without a timeout, and spins on
    a connection the instrument closed until the read times out. Also sets TCP_NODELAY, which
    pyvisa-py leaves off and will not set: with Nagle on, a command written right after
    another waits ~40 ms for the instrument's delayed ACK.
    """
    if not term:  # no read termination: answers have no line ends to find
        return None, None
    try:
        visa = res.visalib.sessions[res.session]  # type: ignore[attr-defined]
    except Exception:  # another backend (NI-VISA, pyvisa-sim): no socket to look at
        return None, None
    sock = getattr(visa, "interface", None)
    if not isinstance(sock, socket.socket) or \
            not isinstance(getattr(visa, "_pending_buffer", None), bytearray):
        return None, None
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return visa, sock


def wait_ready(sock: socket.socket, deadline: float, write: bool = False) -> bool:
    """Wait until ``sock`` is readable (writable) or ``deadline`` passed; True when ready."""
    while True:
        left = max(0.0, deadline - time.monotonic())
        try:
            ready = select.select([], [sock], [], left)[1] if write else \
                select.select([sock], [], [], left)[0]
        except InterruptedError:
            continue
        except (OSError, ValueError):  # a closed socket: the send or recv says why
            return True
        return bool(ready)
