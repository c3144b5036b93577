"""What is still in flight on a connected socket, from the kernel's queues.

``unread_by_peer``: bytes we sent that the other end has not read yet (``SIOCOUTQ``; on a unix
socket, until the peer's ``recv``). ``unread_here``: bytes that arrived and nobody here has read
yet (``FIONREAD``). A console between two tests must have neither.
"""

from __future__ import annotations

import array
import fcntl
import socket
import termios
import time

SIOCOUTQ = termios.TIOCOUTQ
FIONREAD = termios.FIONREAD


def queued_bytes(sock: socket.socket, request: int) -> int:
    """The count the ``request`` ioctl (``SIOCOUTQ`` or ``FIONREAD``) reports for ``sock``."""
    buf = array.array("i", [0])
    fcntl.ioctl(sock.fileno(), request, buf)
    return buf[0]


def unread_by_peer(sock: socket.socket) -> int:
    return queued_bytes(sock, SIOCOUTQ)


def unread_here(sock: socket.socket) -> int:
    return queued_bytes(sock, FIONREAD)


def wait_read_here(sock: socket.socket, timeout: float, poll: float = 0.0005) -> bool:
    """Wait until whoever reads ``sock`` on our side (a console's reader thread) has taken
    everything that arrived; False when bytes are still waiting after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while unread_here(sock):
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
    return True
