"""The test side of the bridge: Memory over the block's bus, clock cycles and pins."""

from __future__ import annotations

import socket
from collections.abc import Iterable

from ...errors import DutFailure, DutLost, HarnessError, ProtocolError
from ...protocols import Memory
from . import wire


class BusError(DutFailure):
    """The block answered a transfer with an error (PSLVERR): the RTL's behaviour, a failure."""


class BridgeClient:
    """One connection to the bridge inside a simulator. Not thread safe; one request at a time."""

    def __init__(self, sock: socket.socket, name: str, pins: list[str]) -> None:
        self.sock = sock
        self.name = name
        self.pin_names = pins
        self.requests = 0
        self.closed = False

    def call(self, op: int, a: int = 0, b: int = 0, pin: int = 0, data: bytes = b"",
             ok: Iterable[int] = (wire.OK,)) -> tuple[int, int, bytes]:
        if self.closed:
            raise DutLost(f"{self.name}: the simulator connection is closed")
        try:
            self.sock.sendall(wire.REQUEST.pack(op, pin, 0, a, b) + data)
            status, value, n = wire.REPLY.unpack(wire.recv_exact(self.sock, wire.REPLY.size))
            payload = wire.recv_exact(self.sock, n) if n else b""
        except (OSError, ConnectionError) as exc:
            self.closed = True
            raise DutLost(f"{self.name}: simulator lost during {wire.NAMES.get(op, op)}: "
                          f"{exc}") from None
        self.requests += 1
        if status == wire.BAD:
            raise ProtocolError(f"{self.name}: the bridge refused {wire.NAMES.get(op, op)}: "
                                f"{payload.decode(errors='replace')}")
        if status not in ok:
            if status == wire.BUS_ERROR:
                raise BusError(f"{self.name}: bus error (PSLVERR) at block offset {value:#x}")
            raise ProtocolError(f"{self.name}: unexpected status {status} for "
                                f"{wire.NAMES.get(op, op)}")
        return status, value, payload

    def finish(self) -> int:
        _, cycles, _ = self.call(wire.FINISH)
        self.closed = True
        return cycles


class BusMemory(Memory):
    """The block's registers at absolute addresses ``base .. base+size`` (as in the SVD)."""

    def __init__(self, client: BridgeClient, base: int, size: int) -> None:
        self.client, self.base, self.size = client, base, size

    def _offset(self, address: int, length: int) -> int:
        if length < 0 or not (self.base <= address and address + length <= self.base + self.size):
            raise HarnessError(
                f"{self.client.name}: {address:#010x}+{length} is outside the block "
                f"({self.base:#010x}..{self.base + self.size - 1:#010x})")
        return address - self.base

    def read(self, address: int, length: int) -> bytes:
        off = self._offset(address, length)
        start = off & ~3
        words = (off + length - start + 3) // 4
        if length == 0:
            return b""
        _, _, payload = self.client.call(wire.READ, start, words)
        return payload[off - start:off - start + length]

    def write(self, address: int, data: bytes) -> None:
        off = self._offset(address, len(data))
        end = off + len(data)
        pos = off
        while pos < end:
            word = pos & ~3
            lo, hi = pos - word, min(4, end - word)
            if lo == 0 and hi == 4:  # a run of whole words in one request
                n = (end - pos) // 4
                self.client.call(wire.WRITE, word, n, pin=0xF, data=bytes(data[pos - off:
                                                                            pos - off + 4 * n]))
                pos += 4 * n
                continue
            buf = bytearray(4)
            buf[lo:hi] = data[pos - off:word + hi - off]
            strobes = sum(1 << i for i in range(lo, hi))
            self.client.call(wire.WRITE, word, 1, pin=strobes, data=bytes(buf))
            pos = word + hi


class Pins:
    """The block's pins by name: ``pins["fault"] = 1``, ``pins["pwm_h"]`` -> 0/1."""

    def __init__(self, client: BridgeClient, directions: dict[str, str]) -> None:
        self.client = client
        self.directions = directions
        self._index = {n: i for i, n in enumerate(client.pin_names)}

    def _i(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"{self.client.name} has no pin {name!r}; pins: "
                           f"{', '.join(self._index)}") from None

    def __getitem__(self, name: str) -> int:
        return self.client.call(wire.PIN_GET, pin=self._i(name))[1]

    def __setitem__(self, name: str, value: int) -> None:
        if self.directions[name] != "in":
            raise KeyError(f"{self.client.name}: pin {name!r} is an output; it cannot be driven")
        self.client.call(wire.PIN_SET, b=int(value), pin=self._i(name))

    def __iter__(self):
        return iter(self._index)

    def trace(self, names: Iterable[str], cycles: int) -> dict[str, list[int]]:
        """Sample pins once per clock cycle, for ``cycles`` cycles (in the simulator)."""
        names = list(names)
        idx = [self._i(n) for n in names]
        mask = sum(1 << i for i in idx)
        _, _, payload = self.client.call(wire.TRACE, mask, cycles)
        words = [int.from_bytes(payload[k:k + 4], "little") for k in range(0, len(payload), 4)]
        return {n: [w >> i & 1 for w in words] for n, i in zip(names, idx, strict=True)}

    def wait(self, name: str, value: int, max_cycles: int) -> int | None:
        """Cycles until the pin reads ``value`` (0 if it already does); None if it never did."""
        status, n, _ = self.client.call(wire.WAIT_PIN, int(value), max_cycles, pin=self._i(name),
                                        ok=(wire.OK, wire.TIMEOUT))
        return n if status == wire.OK else None

    def drive(self, name: str, segments: Iterable[tuple[int, int]]) -> None:
        """Drive a waveform: ``(level, cycles)`` pairs, one after the other."""
        for level, cycles in segments:
            self[name] = level
            self.client.call(wire.WAIT, b=cycles)
