"""QEMU Machine Protocol client: JSON commands over a stream socket, events set aside.

:meth:`QmpClient.dump` is the one way guest memory is read through QMP: ``pmemsave`` into a
file in the QEMU's run dir (~1 ms for 256 KiB, and it works while the VM runs), read back and
removed.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

from .. import patience
from ..errors import DutLost, HarnessError, ProtocolError


class QmpClient:
    def __init__(self, sock: socket.socket, timeout: float | None = None, name: str = "qmp",
                 rundir: Path | None = None) -> None:
        """``timeout``: seconds for one reply (default: the base QMP wait times the run's
        factor); each wait scales it by the machine's load."""
        self.sock = sock
        self.timeout = patience.factored("qmp") if timeout is None else timeout
        self.name = name
        self.rundir = rundir  # where dump() lets QEMU write its files
        self.events: list[dict[str, Any]] = []
        self._buf = b""
        self._lock = threading.Lock()
        self._dumps = itertools.count()
        greeting = self._read()
        if "QMP" not in greeting:
            raise ProtocolError(f"{name}: expected a QMP greeting, got {greeting!r}")
        self.execute("qmp_capabilities")

    def _read(self) -> dict[str, Any]:
        limit = patience.scaled(self.timeout)
        deadline = time.monotonic() + limit
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProtocolError(f"{self.name}: no reply within {limit:.1f} s")
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
        reply: dict[str, Any] = json.loads(line)
        return reply

    def execute(self, command: str, **arguments: object) -> Any:
        """Run ``command``; its ``return`` value (a dict, a list, ... as QEMU documents it)."""
        msg: dict[str, object] = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        with self._lock:
            try:
                self.sock.settimeout(patience.scaled(self.timeout))
                self.sock.sendall(json.dumps(msg).encode() + b"\n")
            except TimeoutError:
                raise DutLost(f"{self.name}: QEMU took no command for "
                              f"{patience.scaled(self.timeout):.1f} s") from None
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

    def system_reset(self) -> None:
        """Reset the machine; a Cortex-M VM is left stopped at its reset vector (hand this to
        :meth:`harness.emu.rsp.RspClient.reset_halted`)."""
        self.execute("system_reset")

    def dump(self, address: int, length: int) -> bytes:
        """``length`` bytes of guest physical memory at ``address`` (``pmemsave``; the VM may
        run)."""
        if self.rundir is None:
            raise HarnessError(f"{self.name}: no run dir to dump memory into")
        path = self.rundir / f"dump-{next(self._dumps)}.bin"
        try:
            self.execute("pmemsave", val=address, size=length, filename=str(path))
            return path.read_bytes()
        finally:
            path.unlink(missing_ok=True)

    def human(self, command_line: str) -> str:
        """An HMP command (``savevm``, ``loadvm``, ``info ...``) through QMP; its text output.
        HMP reports failures as text, not as a QMP error: callers check what they expect."""
        return str(self.execute("human-monitor-command", **{"command-line": command_line}))

    def save_snapshot(self, tag: str) -> None:
        """Save the whole VM (RAM and every device) as ``tag`` into the machine's snapshot
        drive (a qcow2 ``-drive if=none``)."""
        out = self.human(f"savevm {tag}").strip()
        if out:
            raise ProtocolError(f"{self.name}: savevm {tag}: {out}")

    def load_snapshot(self, tag: str) -> None:
        """Put the VM back to snapshot ``tag`` (a stopped VM stays stopped)."""
        out = self.human(f"loadvm {tag}").strip()
        if out:
            raise ProtocolError(f"{self.name}: loadvm {tag}: {out}")

    def send_quit(self, timeout: float = 0.5) -> None:
        """Ask QEMU to exit, without waiting for an answer (it may close the socket first)."""
        self.sock.settimeout(timeout)
        self.sock.sendall(b'{"execute":"quit"}\n')

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
