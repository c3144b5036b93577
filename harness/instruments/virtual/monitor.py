"""An emulated chip seen through QEMU's QMP monitor: what virtual instruments on a bench host
need of the chip they are wired to, without its debug probe.

On a lab host the probe (``pyocd server``) belongs to whoever holds the place; the instruments
beside it must still see the board's outputs. QEMU's monitor reads guest memory by physical
address (HMP ``xp``) whether the core runs or is halted, without stopping it, so the board model
of :mod:`.coupling` works on this view as it does on a test's own Dut: the firmware image gives
the symbols (``outputs``, ``stimulus``, ``freq_out``, ``ms_count``), the monitor their values.

The monitor socket is QEMU's (``python -m harness.probes.launch`` prints it as ``monitor``); it
takes one client at a time and comes back with a restarted QEMU, so a lost connection is retried
on the next reading (at most once per ``retry`` seconds). Until then the chip reads as off.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

from ...emu.qmp import QmpClient
from ...errors import HarnessError
from ...firmware import FirmwareImage
from ...protocols import Memory
from ...symbols import SymbolView

_WORDS = re.compile(r"^[0-9a-fA-F]+:\s*((?:0x[0-9a-fA-F]{8}\s*)+)$", re.M)
CHUNK = 64  # words per xp command


class MonitorLost(HarnessError):
    """No QMP monitor answers at the socket (QEMU gone or restarting)."""


class MonitorMemory(Memory):
    """Guest memory read through the monitor (read-only: a bench's wiring does not write)."""

    def __init__(self, path: Path, retry: float = 0.5) -> None:
        self.path = Path(path)
        self.retry = retry
        self._qmp: QmpClient | None = None
        self._failed_at = -float("inf")
        self._lock = threading.Lock()

    def _client(self) -> QmpClient:
        if self._qmp is not None:
            return self._qmp
        if time.monotonic() - self._failed_at < self.retry:
            raise MonitorLost(f"monitor {self.path}: not answering")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(self.path))
            self._qmp = QmpClient(sock, name=f"monitor {self.path}")
        except Exception as exc:
            sock.close()
            self._failed_at = time.monotonic()
            raise MonitorLost(f"monitor {self.path}: {exc}") from None
        return self._qmp

    def _drop(self) -> None:
        if self._qmp is not None:
            self._qmp.sock.close()
        self._qmp = None
        self._failed_at = time.monotonic()

    @property
    def connected(self) -> bool:
        with self._lock:
            try:
                self._client()
            except MonitorLost:
                return False
            return True

    def read(self, address: int, length: int) -> bytes:
        start = address & ~3
        words = (address + length - start + 3) // 4
        out = bytearray()
        with self._lock:
            qmp = self._client()
            try:
                while len(out) < words * 4:
                    n = min(CHUNK, words - len(out) // 4)
                    text = qmp.human(f"xp /{n}wx {start + len(out):#x}")
                    got = [int(w, 16) for m in _WORDS.finditer(text) for w in m.group(1).split()]
                    if len(got) != n:
                        raise MonitorLost(f"monitor {self.path}: xp answered {text.strip()!r}")
                    out += b"".join(w.to_bytes(4, "little") for w in got)
            except MonitorLost:
                self._drop()
                raise
            except Exception as exc:
                self._drop()
                raise MonitorLost(f"monitor {self.path}: {exc}") from None
        skip = address - start
        return bytes(out[skip:skip + length])

    def write(self, address: int, data: bytes) -> None:
        raise HarnessError(f"monitor {self.path}: read-only (a bench's wiring writes nothing)")

    def close(self) -> None:
        with self._lock:
            if self._qmp is not None:
                self._qmp.sock.close()
            self._qmp = None


class MonitorDut:
    """The part of a Dut the board model (:class:`.coupling.DutSignals`) uses: name, image,
    symbols, memory, alive, capabilities (none: no execution control through a monitor)."""

    def __init__(self, name: str, image: FirmwareImage, monitor: Path) -> None:
        self.name = name
        self.image = image
        self.memory = MonitorMemory(monitor)
        self.symbols = SymbolView(image, self.memory)

    @property
    def alive(self) -> bool:
        return self.memory.connected

    def has(self, capability: str) -> bool:
        return False

    def close(self) -> None:
        self.memory.close()
