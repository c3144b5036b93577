"""Diagnostics integration: the QSM-A body module in QEMU, real sockets, python-can, can-isotp
and udsoncan. Malformed input is sent as raw SLCAN bytes or raw CAN frames."""

from __future__ import annotations

import socket
import time

import pytest


class RawChannel:
    """A bare socket on the chip's SLCAN channel (no python-can): bytes as they are."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("socket://").rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=2.0)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_for(self, seconds: float) -> bytes:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            self.buf += chunk
        out, self.buf = bytes(self.buf), bytearray()
        return out

    def until(self, token: bytes, timeout: float = 2.0) -> bytes:
        """Everything up to and including ``token``; AssertionError when it does not come."""
        end = time.monotonic() + timeout
        while token not in self.buf:
            left = end - time.monotonic()
            assert left > 0, f"no {token!r} within {timeout} s; got {bytes(self.buf)[-200:]!r}"
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            assert chunk, "the chip's SLCAN channel closed"
            self.buf += chunk
        i = self.buf.index(token) + len(token)
        out, self.buf = bytes(self.buf[:i]), self.buf[i:]
        return out

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw_can(dut):
    url = dut.channels.get("can")
    if url is None:
        pytest.skip(f"the {dut.world} world has no 'can' channel")
    ch = RawChannel(url)
    try:
        yield ch
    finally:
        # leave nothing unread for the chip's next boot: a version request is answered only
        # after every earlier byte was consumed
        if dut.alive:
            ch.buf.clear()
            ch.send(b"\rV\r")
            ch.until(b"V1013\r", timeout=2.0)
        ch.close()
