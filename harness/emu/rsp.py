"""GDB remote serial protocol client (the subset QEMU's gdbstub speaks).

:class:`RspClient` speaks the commands (memory, registers, run control, breakpoints, monitor)
over an :class:`~harness.emu.rsp_wire.RspConnection` that frames the packets. It alone knows
whether the core runs: callers read :attr:`RspClient.running`, take a stop the core reported by
itself with :meth:`~RspClient.poll_stop` / :meth:`~RspClient.wait_stop`, and reset with
:meth:`~RspClient.reset_halted`; nobody else reads the connection.

QEMU specifics honoured here (see DESIGN.md): register packets answer empty until
``target.xml`` was read; no ``X``/``R``/``QStartNoAckMode``; any packet sent while the target
runs only stops it and is dropped — so every access on a running target is halt → access →
continue; ``m`` is capped at 2048 bytes and ``M`` by a 4095-byte line buffer; QEMU may send an
old stop reply on (re)connection, before the answer to our first packet.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ..errors import DutLost, ProtocolError
from .rsp_wire import RspConnection

READ_CHUNK = 2048
STEP_FLAGS = 0x1 | 0x2  # QEMU's SSTEP_ENABLE | SSTEP_NOIRQ (not SSTEP_NOTIMER)
WRITE_CHUNK = 2000


@dataclass(frozen=True)
class StopReply:
    """Why the target stopped: ``signal`` 5 = trap (breakpoint/step), 2 = interrupted."""

    kind: str  # "T"/"S" stopped, "W" exited, "X" killed
    signal: int
    info: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, packet: bytes) -> StopReply:
        text = packet.decode("ascii", "replace")
        if not text or text[0] not in "TSWX" or len(text) < 3:
            raise ProtocolError(f"gdbstub: expected a stop reply, got {text!r}")
        info = {}
        for item in text[3:].split(";"):
            if ":" in item:
                k, v = item.split(":", 1)
                info[k] = v
        return cls(text[0], int(text[1:3], 16), info)

    @property
    def reason(self) -> str:
        if self.kind in "WX":
            return "exited"
        if "watch" in self.info or "rwatch" in self.info or "awatch" in self.info:
            return "watchpoint"
        return {5: "trap", 2: "interrupt"}.get(self.signal, f"signal {self.signal}")


@dataclass(frozen=True)
class Register:
    name: str
    regnum: int
    bitsize: int


_TAG_RE = re.compile(r"<\s*((?:\w+:)?include|reg)\b([^>]*)>")
_ATTR_RE = re.compile(r'([\w:-]+)\s*=\s*"([^"]*)"')


def parse_target_xml(documents: dict[str, str], root: str = "target.xml") -> list[Register]:
    """Registers from a target description and the files it includes, numbered as GDB does.

    Scanned, not parsed as XML: QEMU's target.xml uses the ``xi:`` prefix without declaring it.
    """
    regs: list[Register] = []
    nxt = 0

    def walk(name: str) -> None:
        nonlocal nxt
        if name not in documents:
            raise ProtocolError(f"gdbstub: target description includes unknown {name!r}")
        for tag, attrs in _TAG_RE.findall(documents[name]):
            a = dict(_ATTR_RE.findall(attrs))
            if tag.endswith("include"):
                walk(a["href"])
            else:
                num = int(a.get("regnum", nxt))
                regs.append(Register(a["name"].lower(), num, int(a["bitsize"])))
                nxt = num + 1

    walk(root)
    return regs


class RspClient:
    """GDB remote client: memory, registers, run control, breakpoints. Thread-safe: ``lock``
    (re-entrant) is held for every exchange; hold it to make several calls one step."""

    def __init__(self, conn: RspConnection) -> None:
        self._conn = conn
        self.lock = threading.RLock()
        self._running = False
        self.registers: dict[str, Register] = {}
        self.last_stop: StopReply | None = None
        self.breakpoints: set[tuple[int, bool]] = set()  # (address, hardware) currently set

    @classmethod
    def connect_unix(cls, path: str, timeout: float = 5.0) -> RspClient:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        client = cls(RspConnection(s, timeout))
        client.handshake()
        return client

    @property
    def name(self) -> str:
        return self._conn.name

    @property
    def running(self) -> bool:
        """Whether the core runs, as far as the stub has told us (see :meth:`poll_stop`)."""
        return self._running

    def close(self) -> None:
        self._conn.close()

    # -- set-up ------------------------------------------------------------------------------
    def handshake(self, stale_replies: int = 8) -> None:
        """Features, the target description and the stop state. Whatever the stub had queued
        (an old stop reply after a reconnection) is skipped, also when it arrives after our
        first packet."""
        with self.lock:
            self._conn.drain()
            reply = self._conn.transact(b"qSupported:xmlRegisters=arm")
            for _ in range(stale_replies):
                if b"PacketSize" in reply or b"qXfer" in reply:
                    break
                reply = self._conn.recv_packet()
            else:
                raise ProtocolError(f"{self.name}: no answer to qSupported; is this a gdbstub?")
            docs: dict[str, str] = {}
            pending = ["target.xml"]
            while pending:
                name = pending.pop()
                docs[name] = self._read_xfer(name)
                pending += [h for h in re.findall(r'href="([^"]+)"', docs[name])
                            if h not in docs]
            self.registers = {r.name: r for r in parse_target_xml(docs)}
            # QEMU steps with its timers stopped by default (SSTEP_NOTIMER): a core asleep in
            # WFI then never wakes under -icount sleep=off, the step never ends and QEMU drops
            # every packet but ^C. Timers run; interrupts stay masked. Other stubs answer "".
            self._conn.transact(b"Qqemu.sstep=%x" % STEP_FLAGS)
            stop = self._conn.transact(b"?")
            self.last_stop = StopReply.parse(stop)
            self._running = False

    def _read_xfer(self, annex: str) -> str:
        out, offset = [], 0
        while True:
            reply = self._conn.transact(b"qXfer:features:read:%s:%x,%x" % (annex.encode(),
                                                                          offset, 0xF00))
            if not reply or reply[:1] not in (b"m", b"l"):
                raise ProtocolError(f"gdbstub: cannot read {annex}: {reply!r}")
            out.append(reply[1:])
            offset += len(reply) - 1
            if reply[:1] == b"l":
                return b"".join(out).decode()

    # -- helpers -----------------------------------------------------------------------------
    def _ok(self, reply: bytes, what: str) -> None:
        if reply != b"OK":
            raise ProtocolError(f"gdbstub: {what} failed: {reply.decode(errors='replace')!r}")

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Halt a running target for the body, then let it run again."""
        with self.lock:
            was_running = self._running
            if was_running:
                self.halt()
            try:
                yield
            finally:
                if was_running:
                    self.cont()

    # -- memory ------------------------------------------------------------------------------
    def read_memory(self, address: int, length: int) -> bytes:
        with self.paused():
            out = bytearray()
            while length > 0:
                n = min(length, READ_CHUNK)
                reply = self._conn.transact(b"m%x,%x" % (address, n))
                if reply[:1] == b"E" and len(reply) == 3:
                    raise ProtocolError(f"gdbstub: cannot read {n} bytes at 0x{address:08x} "
                                        f"({reply.decode()})")
                data = bytes.fromhex(reply.decode())
                if not data:
                    raise ProtocolError(f"gdbstub: empty read at 0x{address:08x}")
                out += data
                address += len(data)
                length -= len(data)
            return bytes(out)

    def write_memory(self, address: int, data: bytes) -> None:
        with self.paused():
            view = memoryview(data)
            while view:
                chunk = view[:WRITE_CHUNK]
                reply = self._conn.transact(b"M%x,%x:%s" % (address, len(chunk),
                                                           chunk.hex().encode()))
                self._ok(reply, f"write of {len(chunk)} bytes at 0x{address:08x}")
                address += len(chunk)
                view = view[len(chunk):]

    # -- registers ---------------------------------------------------------------------------
    def _reg(self, name: str) -> Register:
        try:
            return self.registers[name.lower()]
        except KeyError:
            raise KeyError(f"no register {name!r}; this target has "
                           f"{', '.join(self.registers)}") from None

    def read_register(self, name: str) -> int:
        reg = self._reg(name)
        with self.paused():
            reply = self._conn.transact(b"p%x" % reg.regnum)
            if not reply or reply[:1] == b"E":
                raise ProtocolError(f"gdbstub: cannot read register {name}: {reply!r}")
            return int.from_bytes(bytes.fromhex(reply.decode()), "little")

    def read_all_registers(self) -> bytes:
        """The raw ``g`` block (every register GDB numbers, target byte order)."""
        with self.paused():
            reply = self._conn.transact(b"g")
            if not reply or reply[:1] == b"E":
                raise ProtocolError(f"gdbstub: cannot read registers: {reply!r}")
            return bytes.fromhex(reply.decode())

    def write_all_registers(self, block: bytes) -> None:
        with self.paused():
            self._ok(self._conn.transact(b"G" + block.hex().encode()), "write of all registers")

    def write_register(self, name: str, value: int) -> None:
        reg = self._reg(name)
        raw = (value & ((1 << reg.bitsize) - 1)).to_bytes(reg.bitsize // 8, "little")
        with self.paused():
            self._ok(self._conn.transact(b"P%x=%s" % (reg.regnum, raw.hex().encode())),
                     f"write of register {name}")

    # -- run control -------------------------------------------------------------------------
    def cont(self) -> None:
        with self.lock:
            if not self._running:
                self._conn.send_packet(b"c")
                self._running = True

    def halt(self, timeout: float | None = None) -> StopReply:
        with self.lock:
            if not self._running:
                return self.last_stop or StopReply("T", 2)
            pending = self._poll_packet()
            if pending is None:
                self._conn.send_interrupt()
                pending = self._conn.recv_packet(timeout)
            return self._stopped(pending)

    def step(self) -> StopReply:
        with self.lock:
            if self._running:
                self.halt()
            self._conn.send_packet(b"s")
            self._running = True
            try:
                return self._stopped(self._conn.recv_packet())
            except ProtocolError as exc:
                # a step that never ends leaves the stub running and deaf to all but ^C
                self.halt()
                raise ProtocolError(f"{exc}: a single step did not end (the core was halted "
                                    f"again)") from None

    def poll_stop(self) -> StopReply | None:
        """Without waiting: the stop reply of a running core that stopped by itself (a
        breakpoint), else None (also when the core was not running)."""
        with self.lock:
            if not self._running:
                return None
            pkt = self._poll_packet()
            return None if pkt is None else self._stopped(pkt)

    def wait_stop(self, timeout: float) -> StopReply | None:
        """Wait for a running target to stop by itself (breakpoint); None on timeout."""
        with self.lock:
            if not self._running:
                return self.last_stop
            try:
                return self._stopped(self._conn.recv_packet(timeout))
            except ProtocolError:
                return None

    def reset_halted(self, reset: Callable[[], object] | None = None) -> None:
        """System reset, the core left stopped at its reset vector: halt it if it runs, reset
        (``reset``, e.g. QMP ``system_reset``; default ``monitor system_reset``), then take the
        stop reply that may or may not follow a reset."""
        with self.lock:
            if self._running:
                self.halt()
            if reset is None:
                self.monitor("system_reset")
            else:
                reset()
            self._conn.drain()
            self._running = False

    def _poll_packet(self) -> bytes | None:
        try:
            return self._conn.poll_packet()
        except OSError as exc:
            raise DutLost(f"{self.name}: connection lost ({exc})") from None

    def _stopped(self, packet: bytes) -> StopReply:
        self.last_stop = StopReply.parse(packet)
        self._running = False
        return self.last_stop

    def set_breakpoint(self, address: int, hardware: bool = True) -> None:
        with self.paused():
            kind = b"1" if hardware else b"0"
            self._ok(self._conn.transact(b"Z%s,%x,2" % (kind, address)),
                     f"breakpoint at 0x{address:08x}")
            self.breakpoints.add((address, hardware))

    def clear_breakpoint(self, address: int, hardware: bool = True) -> None:
        with self.paused():
            kind = b"1" if hardware else b"0"
            self._ok(self._conn.transact(b"z%s,%x,2" % (kind, address)),
                     f"breakpoint removal at 0x{address:08x}")
            self.breakpoints.discard((address, hardware))

    def run_to(self, address: int, timeout: float) -> StopReply | None:
        """Let the halted core run until it reaches ``address`` (a hardware breakpoint, removed
        after); the stop, or None when it did not get there in time (halted again then)."""
        with self.lock:
            self.set_breakpoint(address)
            try:
                self.cont()
                stop = self.wait_stop(timeout)
                if stop is None:
                    self.halt()
                return stop
            finally:
                self.clear_breakpoint(address)

    def clear_all_breakpoints(self) -> None:
        for address, hardware in list(self.breakpoints):
            self.clear_breakpoint(address, hardware)

    def monitor(self, command: str) -> str:
        """``monitor <command>`` (qRcmd); returns the text the stub printed."""
        with self.paused():
            self._conn.send_packet(b"qRcmd," + command.encode().hex().encode())
            text = []
            while True:
                reply = self._conn.recv_packet()
                if reply[:1] == b"O" and reply != b"OK":
                    text.append(bytes.fromhex(reply[1:].decode()).decode(errors="replace"))
                    continue
                if reply[:1] == b"E":
                    raise ProtocolError(f"gdbstub: monitor {command!r} failed: {reply!r}")
                return "".join(text)
