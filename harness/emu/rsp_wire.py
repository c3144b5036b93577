"""GDB remote serial protocol framing: ``$data#cs`` packets, acks, escapes and run-length
decoding over any connected stream socket (the layer under :mod:`harness.emu.rsp`)."""

from __future__ import annotations

import contextlib
import select
import socket
import time
from collections import deque

from .. import patience
from ..errors import DutLost, ProtocolError

SPIN_SECONDS = 0.0002
_ESCAPE_SET = frozenset(b"#$}*")


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def escape(data: bytes) -> bytes:
    """Escape binary payload bytes that would break framing (``# $ } *``)."""
    if not any(b in _ESCAPE_SET for b in data):
        return data
    out = bytearray()
    for b in data:
        if b in _ESCAPE_SET:
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def frame(data: bytes) -> bytes:
    return b"$" + data + b"#" + b"%02x" % checksum(data)


def decode(data: bytes) -> bytes:
    """Undo escapes (``}x`` → ``x^0x20``) and run-length encoding (``c*n``)."""
    if b"}" not in data and b"*" not in data:
        return data
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b == 0x7D and i + 1 < n:
            out.append(data[i + 1] ^ 0x20)
            i += 2
        elif b == 0x2A and i + 1 < n and out:
            out += bytes((out[-1],)) * (data[i + 1] - 29)
            i += 2
        else:
            out.append(b)
            i += 1
    return bytes(out)


class RspConnection:
    """Packet framing over a connected socket. Not thread-safe; :class:`RspClient` locks."""

    def __init__(self, sock: socket.socket, timeout: float | None = None,
                 name: str = "gdbstub") -> None:
        """``timeout``: seconds for an acknowledgement or reply (default: the base gdbstub
        wait times the run's factor); each wait scales it by the machine's load."""
        self.sock = sock
        self.timeout = patience.factored("gdbstub") if timeout is None else timeout
        self.name = name
        self._buf = bytearray()
        self._packets: deque[bytes] = deque()
        self._acks = 0
        self._nacks = 0
        sock.settimeout(None)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    # -- reading -----------------------------------------------------------------------------
    def _fill(self, deadline: float | None) -> bool:
        """Read what is available, waiting until ``deadline`` (None: not at all); False on
        timeout. A reply usually follows within microseconds: poll for it briefly before
        sleeping in select(), which costs the CPU's idle exit on a quiet machine."""
        spin_until = time.monotonic() + SPIN_SECONDS
        while True:
            try:
                chunk = self.sock.recv(65536, socket.MSG_DONTWAIT)
                break
            except BlockingIOError:
                pass
            if deadline is None:
                return False
            now = time.monotonic()
            if now < spin_until and now < deadline:
                continue
            if now >= deadline:
                return False
            readable, _, _ = select.select([self.sock], [], [], deadline - now)
            if not readable:
                return False
        if not chunk:
            raise DutLost(f"{self.name}: connection closed by the peer")
        self._buf += chunk
        self._parse()
        return True

    def _parse(self) -> None:
        buf = self._buf
        while buf:
            c = buf[0]
            if c == 0x2B:  # '+'
                self._acks += 1
                del buf[0]
            elif c == 0x2D:  # '-'
                self._nacks += 1
                del buf[0]
            elif c == 0x24:  # '$'
                end = buf.find(b"#")
                if end < 0 or len(buf) < end + 3:
                    return
                body = bytes(buf[1:end])
                try:
                    ok = int(buf[end + 1:end + 3], 16) == checksum(body)
                except ValueError:
                    ok = False
                del buf[:end + 3]
                self._send(b"+" if ok else b"-")
                if ok:
                    self._packets.append(decode(body))
            else:  # noise between packets (e.g. stray bytes after a reconnect)
                del buf[0]

    def recv_packet(self, timeout: float | None = None) -> bytes:
        limit = patience.scaled(self.timeout if timeout is None else timeout)
        deadline = time.monotonic() + limit
        while not self._packets:
            if not self._fill(deadline):
                raise ProtocolError(f"{self.name}: no reply within {limit:.1f} s")
        return self._packets.popleft()

    def poll_packet(self) -> bytes | None:
        """A packet that has already arrived, without waiting."""
        with contextlib.suppress(BlockingIOError):
            while self._fill(None):
                pass
        return self._packets.popleft() if self._packets else None

    # -- writing -----------------------------------------------------------------------------
    def send_packet(self, data: bytes) -> None:
        raw = frame(data)
        for _attempt in range(3):
            self._acks = self._nacks = 0
            self._send(raw)
            limit = patience.scaled(self.timeout)
            deadline = time.monotonic() + limit
            while not self._acks and not self._nacks:
                if not self._fill(deadline):
                    raise ProtocolError(f"{self.name}: packet {data[:40]!r} not acknowledged "
                                        f"within {limit:.1f} s")
            if self._acks:
                self._acks -= 1
                return
        raise ProtocolError(f"{self.name}: packet {data[:40]!r} rejected 3 times (bad checksum)")

    def transact(self, data: bytes, timeout: float | None = None) -> bytes:
        self.send_packet(data)
        return self.recv_packet(timeout)

    def send_interrupt(self) -> None:
        self._send(b"\x03")

    def _send(self, data: bytes) -> None:
        """Send all of ``data``, or fail once the scaled timeout passed: a peer that stopped
        reading never blocks us for good."""
        limit = patience.scaled(self.timeout)
        self.sock.settimeout(limit)
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise DutLost(f"{self.name}: peer took nothing of {data[:40]!r} within "
                          f"{limit:.1f} s") from None
        except OSError as exc:
            raise DutLost(f"{self.name}: send failed: {exc}") from None
        finally:
            with contextlib.suppress(OSError):
                self.sock.settimeout(None)

    def drain(self) -> list[bytes]:
        """Every packet already waiting (e.g. an unsolicited stop reply after connecting)."""
        out = []
        while (p := self.poll_packet()) is not None:
            out.append(p)
        return out
