"""QEMU Machine Protocol client: JSON commands over a stream socket, events set aside."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time

from ..errors import DutLost, ProtocolError


class QmpClient:
    def __init__(self, sock: socket.socket, timeout: float = 5.0, name: str = "qmp") -> None:
        self.sock = sock
        self.timeout = timeout
        self.name = name
        self.events: list[dict] = []
        self._buf = b""
        self._lock = threading.Lock()
        greeting = self._read()
        if "QMP" not in greeting:
            raise ProtocolError(f"{name}: expected a QMP greeting, got {greeting!r}")
        self.execute("qmp_capabilities")

    def _read(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProtocolError(f"{self.name}: no reply within {self.timeout:.1f} s")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError as exc:
                raise DutLost(f"{self.name}: read failed ({exc})") from None
            if not chunk:
                raise DutLost(f"{self.name}: connection closed by QEMU")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def execute(self, command: str, **arguments) -> object:
        msg = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        with self._lock:
            try:
                self.sock.sendall(json.dumps(msg).encode() + b"\n")
            except OSError as exc:
                raise DutLost(f"{self.name}: send failed ({exc})") from None
            while True:
                reply = self._read()
                if "event" in reply:
                    self.events.append(reply)
                    del self.events[:-100]
                    continue
                if "error" in reply:
                    err = reply["error"]
                    raise ProtocolError(f"{self.name}: {command} failed: "
                                        f"{err.get('class')}: {err.get('desc')}")
                return reply.get("return")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
