"""The sockets behind pyvisa-py's TCP/IP resources: TCP_NODELAY on every one of them, and the
socket of a raw SOCKET resource for a session that reads and writes it itself with deadlines
(see :mod:`.scpi`): pyvisa-py 0.8 waits for a writable socket without a timeout, spins on a
connection the instrument closed, and leaves Nagle on."""

from __future__ import annotations

import contextlib
import select
import socket
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyvisa.resources import MessageBasedResource


def visa_session(res: MessageBasedResource) -> object | None:
    """pyvisa-py's session object behind ``res`` (None with another backend)."""
    try:
        return res.visalib.sessions[res.session]  # type: ignore[attr-defined]
    except Exception:  # another backend (NI-VISA, pyvisa-sim): no session object to look at
        return None


def tcp_sockets(visa: object) -> list[socket.socket]:
    """The TCP sockets of a pyvisa-py session: a raw SOCKET resource's own, a VXI-11 client's
    RPC socket, HiSLIP's synchronous and asynchronous channels."""
    iface = getattr(visa, "interface", None)
    if isinstance(iface, socket.socket):
        found = [iface]
    else:
        try:
            found = [v for v in vars(iface).values() if isinstance(v, socket.socket)]
        except TypeError:  # no instance dictionary: nothing to look at
            found = []
    return [s for s in found
            if s.family in (socket.AF_INET, socket.AF_INET6) and s.type == socket.SOCK_STREAM]


def set_nodelay(visa: object) -> int:
    """TCP_NODELAY on every TCP socket of the session (how many were set).

    pyvisa-py leaves Nagle on for SOCKET resources and refuses ``VI_ATTR_TCPIP_NODELAY``
    (UnknownAttribute): a command written right after another then waits ~40 ms for the
    instrument's delayed ACK. The setting costs nothing where pyvisa-py already set it
    (HiSLIP)."""
    done = 0
    for sock in tcp_sockets(visa):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            done += 1
    return done


def nodelay_of(res: MessageBasedResource) -> bool | None:
    """Whether every TCP socket behind ``res`` has TCP_NODELAY (None: no TCP socket)."""
    visa = visa_session(res)
    socks = tcp_sockets(visa) if visa is not None else []
    if not socks:
        return None
    return all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in socks)


def socket_of(res: MessageBasedResource,
              term: bytes) -> tuple[object | None, socket.socket | None]:
    """pyvisa-py's session object behind a raw TCP SOCKET resource and its socket, else None;
    sets TCP_NODELAY on the sockets of every TCP/IP resource on the way.

    The session then reads and writes that socket itself, through pyvisa-py's own buffer of
    received bytes: pyvisa-py 0.8 waits for a writable socket without a timeout, and spins on
    a connection the instrument closed until the read times out.
    """
    visa = visa_session(res)
    if visa is None:
        return None, None
    set_nodelay(visa)
    if not term:  # no read termination: answers have no line ends to find
        return None, None
    sock = getattr(visa, "interface", None)
    if not isinstance(sock, socket.socket) or \
            not isinstance(getattr(visa, "_pending_buffer", None), bytearray):
        return None, None
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
