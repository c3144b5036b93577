"""The test side of the bridge: Memory over the block's bus, clock cycles and pins.

Requests whose answer the test does not need (register writes, pin drives, the waits between
them) are *posted*: queued here and sent with the next request that needs an answer, so a run
of writes costs one exchange with the simulator. They still execute in order, in simulated time
exactly as if each had waited; a failure among them is raised by the next call that waits for
the simulator (a read, ``wait_cycles``, ``Rtl.sync()``, closing), naming the failed request,
and nothing issued after it is executed. Several reads can be pipelined (``read_many``).
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Sequence

from ...errors import DutFailure, DutLost, HarnessError, ProtocolError
from ...protocols import Memory
from . import wire

# A request waiting to be sent: op, a, b, pin, data
Request = tuple[int, int, int, int, bytes]

# Requests a pipeline sends before reading their replies (bounded: neither side may fill the
# other's socket buffer while not reading), and posted bytes queued before they are sent anyway.
PIPELINE = 256
POSTED_BYTES = 1 << 15
# ops whose answer is only a few µs of simulated work away: worth spinning for
_QUICK = frozenset((wire.READ, wire.WRITE, wire.PIN_GET, wire.PIN_SET, wire.CYCLE, wire.FINISH))


class BusError(DutFailure):
    """The block answered a transfer with an error (PSLVERR): the RTL's behaviour, a failure."""


class BridgeClient:
    """One connection to the bridge inside a simulator. Not thread safe; one caller at a time."""

    def __init__(self, sock: socket.socket, name: str, pins: list[str],
                 timeout: float | None = None) -> None:
        self.sock = sock
        self.channel = wire.Channel(sock, timeout)
        self.name = name
        self.pin_names = pins
        self.requests = 0
        self.exchanges = 0          # round trips: what costs wall time
        self.closed = False
        self.epoch = 0
        self._posted = bytearray()  # posted requests not sent yet
        self._posted_ops: list[int] = []

    def hello(self) -> int:
        """The bridge's first frame: ready, at cycle 0."""
        _, _, _, cycles, _ = wire.REPLY.unpack(self.channel.recv_exact(wire.REPLY.size))
        return cycles

    # -- posted requests -----------------------------------------------------------------------
    def post(self, op: int, a: int = 0, b: int = 0, pin: int = 0, data: bytes = b"") -> None:
        """Queue a request whose reply nobody waits for; its failure comes at the next call."""
        self._check_open(op)
        self._posted += wire.REQUEST.pack(op, pin, wire.flags(self.epoch, True), a, b)
        self._posted += data
        self._posted_ops.append(op)
        self.requests += 1
        if len(self._posted) >= POSTED_BYTES:
            self._send(b"", op)

    @property
    def pending(self) -> int:
        """Posted requests not sent to the simulator yet."""
        return len(self._posted_ops)

    # -- requests with a reply -------------------------------------------------------------------
    def call(self, op: int, a: int = 0, b: int = 0, pin: int = 0, data: bytes = b"",
             ok: Iterable[int] = (wire.OK,)) -> tuple[int, int, bytes]:
        """One request and its reply -> (status, value, payload); raises for a failure of it or
        of a posted request before it. (``pipeline`` of one request, the short way.)"""
        if self.closed:
            self._check_open(op)
        frame = wire.REQUEST.pack(op, pin, self.epoch << 8, a, b)
        self._send(frame + data if data else frame, op)
        self.requests += 1
        self.exchanges += 1
        recv = self.channel.recv_exact
        try:
            status, failed_op, skipped, value, n = wire.REPLY.unpack(
                recv(wire.REPLY.size, op in _QUICK or (op == wire.WAIT and b <= 8)))
            payload = recv(n) if n else b""
        except (OSError, ConnectionError) as exc:
            raise self._lost(op, exc) from None
        if status not in ok:
            self.epoch = (self.epoch + 1) & 0xFF   # the bridge serves the next epoch again
            raise self._error(op, status, failed_op, skipped, value, payload)
        return status, value, payload

    def pipeline(self, requests: Iterable[Request],
                 ok: Iterable[int] = (wire.OK,)) -> list[tuple[int, int, bytes]]:
        """Several requests sent back to back, their replies read in order afterwards."""
        ok = tuple(ok)
        results: list[tuple[int, int, bytes]] = []
        batch: list[Request] = []
        for r in requests:
            batch.append(r)
            if len(batch) == PIPELINE:
                results += self._exchange(batch, ok)
                batch = []
        if batch or not results:
            results += self._exchange(batch, ok)
        return results

    def sync(self) -> int:
        """Send what is posted and wait for it: raises its failure; returns the cycle counter."""
        return self.call(wire.CYCLE)[1]

    def finish(self) -> int:
        try:
            _, cycles, _ = self.call(wire.FINISH)
        finally:
            self.closed = True
        return cycles

    # -- internals -------------------------------------------------------------------------------
    def _check_open(self, op: int) -> None:
        if self.closed:
            raise DutLost(f"{self.name}: the simulator connection is closed "
                          f"({wire.NAMES.get(op, op)} not sent)")

    def _lost(self, op: int, exc: BaseException) -> DutLost:
        self.closed = True
        return DutLost(f"{self.name}: simulator lost during {wire.NAMES.get(op, op)}: {exc}")

    def _send(self, frames: bytes | bytearray, op: int) -> None:
        if self._posted:
            frames = self._posted + frames
            self._posted = bytearray()
            self._posted_ops = []
        try:
            self.channel.send(frames)
        except OSError as exc:
            raise self._lost(op, exc) from None

    def _exchange(self, batch: Sequence[Request], ok: tuple[int, ...]) -> list[tuple[int, int,
                                                                                      bytes]]:
        if not batch:
            return []
        for op, *_ in batch:
            self._check_open(op)
        flags = wire.flags(self.epoch)
        pack = wire.REQUEST.pack
        frames = b"".join(pack(op, pin, flags, a, b) + data for op, a, b, pin, data in batch)
        self._send(frames, batch[0][0])
        self.requests += len(batch)
        self.exchanges += 1
        replies = []
        recv = self.channel.recv_exact
        for op, _, b, _, _ in batch:
            try:
                status, failed_op, skipped, value, n = wire.REPLY.unpack(
                    recv(wire.REPLY.size, spin=op in _QUICK or (op == wire.WAIT and b <= 8)))
                payload = recv(n) if n else b""
            except (OSError, ConnectionError) as exc:
                raise self._lost(op, exc) from None
            replies.append((op, status, failed_op, skipped, value, payload))
        results = []
        for op, status, failed_op, skipped, value, payload in replies:
            if status not in ok:
                self.epoch = (self.epoch + 1) & 0xFF   # the bridge serves the next epoch again
                raise self._error(op, status, failed_op, skipped, value, payload)
            results.append((status, value, payload))
        return results

    def _error(self, op: int, status: int, failed_op: int, skipped: int, value: int,
               payload: bytes) -> HarnessError | DutFailure:
        what = wire.NAMES.get(failed_op or op, failed_op or op)
        if failed_op:
            where = (f" in a posted {what} (raised at the next {wire.NAMES.get(op, op)}; the "
                     f"{skipped} request(s) issued after the {what} were not executed)")
        else:
            where = ""
        if status == wire.BUS_ERROR:
            return BusError(f"{self.name}: bus error (PSLVERR) at block offset {value:#x}{where}")
        if status == wire.BAD:
            return ProtocolError(f"{self.name}: the bridge refused {what}: "
                                 f"{payload.decode(errors='replace')}{where}")
        return ProtocolError(f"{self.name}: unexpected status {status} for "
                             f"{wire.NAMES.get(op, op)}")


class BusMemory(Memory):
    """The block's registers at absolute addresses ``base .. base+size`` (as in the SVD).

    Writes are posted (see the module's doc); reads wait for their value."""

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
        if length == 0:
            return b""
        start = off & ~3
        words = (off + length - start + 3) // 4
        _, _, payload = self.client.call(wire.READ, start, words)
        return payload[off - start:off - start + length]

    def read_u32(self, address: int) -> int:
        if address & 3:
            return super().read_u32(address)
        _, _, payload = self.client.call(wire.READ, self._offset(address, 4), 1)
        return int.from_bytes(payload, "little")

    def read_many(self, addresses: Iterable[int]) -> list[int]:
        """32-bit reads of word-aligned addresses, in this order, pipelined: one exchange with
        the simulator per batch instead of one per read. Raises at the first failed read (the
        ones after it are not executed)."""
        reqs = []
        for address in addresses:
            if address & 3:
                raise HarnessError(f"{self.client.name}: read_many: {address:#010x} is not "
                                   "word aligned")
            reqs.append((wire.READ, self._offset(address, 4), 1, 0, b""))
        if not reqs:
            return []
        return [int.from_bytes(p, "little") for _, _, p in self.client.pipeline(reqs)]

    def write(self, address: int, data: bytes) -> None:
        off = self._offset(address, len(data))
        end = off + len(data)
        pos = off
        post = self.client.post
        while pos < end:
            word = pos & ~3
            lo, hi = pos - word, min(4, end - word)
            if lo == 0 and hi == 4:  # a run of whole words in one request
                n = (end - pos) // 4
                post(wire.WRITE, word, n, pin=0xF, data=bytes(data[pos - off:pos - off + 4 * n]))
                pos += 4 * n
                continue
            buf = bytearray(4)
            buf[lo:hi] = data[pos - off:word + hi - off]
            strobes = sum(1 << i for i in range(lo, hi))
            post(wire.WRITE, word, 1, pin=strobes, data=bytes(buf))
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
        """Drive an input (posted: it takes effect in order, before the next request)."""
        if self.directions[name] != "in":
            raise KeyError(f"{self.client.name}: pin {name!r} is an output; it cannot be driven")
        self.client.post(wire.PIN_SET, b=int(value), pin=self._i(name))

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
        """Drive a waveform: ``(level, cycles)`` pairs, one after the other (posted: the
        simulator runs it when the test next waits for an answer)."""
        for level, cycles in segments:
            if cycles < 0:
                raise ValueError(f"drive({name!r}): cycles must be >= 0, not {cycles}")
            self[name] = level
            self.client.post(wire.WAIT, b=cycles)
