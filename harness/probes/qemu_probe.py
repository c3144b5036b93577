"""``qemu:`` — a pyOCD debug probe that drives QEMU's gdbstub.

Unique ids (the part after ``qemu:`` picks the QEMU):

* ``qemu:<path>``: a gdbstub on a unix socket — one registered in this process by the pyocd
  world, or a QEMU started with ``python -m harness.probes.launch`` (any process);
* ``qemu:<host>:<port>``: a gdbstub on TCP (loopback only);
* ``qemu:auto`` / ``qemu:auto:<machine>``: start a QEMU (default lm3s6965evb) for this probe
  and stop it when the probe closes.

The probe answers DP/AP identification itself and hands pyOCD a memory interface for AP #0;
that interface routes the core's debug registers to :class:`DebugUnit` and all else to the
gdbstub. Registered for pyOCD under the ``pyocd.probe`` entry point by
:class:`harness.probes.plugin.QemuProbePlugin`.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
from pathlib import Path

from pyocd.core import exceptions
from pyocd.core.memory_interface import MemoryInterface
from pyocd.probe.debug_probe import DebugProbe

from ..backends.rsp import RspClient
from ..backends.rsp_wire import RspConnection
from ..errors import HarnessError
from . import boards, launch
from .coresight import DebugPortModel
from .debug_unit import DebugUnit
from .gdb_core import GdbCore, Region

LOG = logging.getLogger(__name__)
DEBUG_SPACE = 0xE0000000


class ProbeGone(exceptions.ProbeDisconnected):
    """The QEMU behind a ``qemu:`` probe went away (killed, crashed, socket closed)."""


def _parse(uid: str) -> tuple[str, object]:
    """('auto', machine) | ('unix', path) | ('tcp', (host, port)); raises on nonsense."""
    if uid == "auto" or uid.startswith("auto:"):
        return "auto", uid.partition(":")[2] or "lm3s6965evb"
    if "/" in uid:
        return "unix", uid
    host, sep, port = uid.rpartition(":")
    if sep and port.isdigit():
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise HarnessError(f"qemu:{uid}: only loopback gdbstubs are supported")
        return "tcp", (host, int(port))
    raise HarnessError(f"qemu:{uid}: not a probe id; use qemu:<unix socket path>, "
                       f"qemu:<host>:<port> or qemu:auto[:<machine>]")


def _sync(conn: RspConnection) -> None:
    """Skip what QEMU sends on (re)connection before our first reply (an old stop reply)."""
    conn.send_packet(b"qSupported:xmlRegisters=arm")
    for _ in range(8):
        if b"PacketSize" in conn.recv_packet():
            return
    raise HarnessError(f"{conn.name}: no answer to qSupported; is this a gdbstub?")


class QemuProbe(DebugProbe):
    """One QEMU gdbstub as an SWD debug probe with one Cortex-M behind it."""

    @classmethod
    def get_all_connected_probes(cls, unique_id=None, is_explicit=False):
        ids = launch.local_ids() + [str(p) for p in launch.served_sockets()]
        probes = [cls(i) for i in dict.fromkeys(ids)]
        if is_explicit and unique_id is not None and not probes:
            probe = cls.get_probe_with_id(unique_id, is_explicit)
            return [probe] if probe is not None else []
        return probes

    @classmethod
    def get_probe_with_id(cls, unique_id, is_explicit=False):
        try:
            kind, where = _parse(unique_id)
        except HarnessError:
            return None
        if kind == "unix" and launch.local(where) is None and not Path(where).exists():
            return None
        return cls(unique_id)

    def __init__(self, uid: str) -> None:
        super().__init__()
        self._uid = uid
        self._kind, self._where = _parse(uid)
        self._served: launch.Served | None = None
        self._rsp: RspClient | None = None
        self._board: boards.BoardSpec | None = None
        self._is_open = False
        self._protocol = None
        self._reset_asserted = False
        self.dp = DebugPortModel()
        self.unit: DebugUnit | None = None
        self.core: GdbCore | None = None
        self._memif: QemuMemoryInterface | None = None
        self._lock = threading.RLock()

    # -- identity ----------------------------------------------------------------------------
    @property
    def unique_id(self) -> str:
        return f"qemu:{self._uid}"

    @property
    def vendor_name(self) -> str:
        return "QEMU"

    @property
    def product_name(self) -> str:
        board = self._board.machine if self._board else self._known_machine()
        return f"gdbstub probe ({board})" if board else "gdbstub probe"

    @property
    def description(self) -> str:
        return f"QEMU {self.product_name}"

    def _known_machine(self) -> str | None:
        if self._kind == "auto":
            return str(self._where)
        if self._kind == "unix" and (loc := launch.local(str(self._where))):
            return loc.machine
        return None

    @property
    def supported_wire_protocols(self):
        return [DebugProbe.Protocol.DEFAULT, DebugProbe.Protocol.SWD]

    @property
    def wire_protocol(self):
        return self._protocol

    @property
    def is_open(self) -> bool:
        return self._is_open

    @property
    def capabilities(self):
        return {DebugProbe.Capability.MANAGED_AP_SELECTION,
                DebugProbe.Capability.MANAGED_DPBANKSEL,
                DebugProbe.Capability.BANKED_DP_REGISTERS}

    @property
    def associated_board_info(self):
        from pyocd.board.board_ids import BoardInfo

        if self._board is None:
            return None
        return BoardInfo(f"QEMU {self._board.machine}", self._board.target_type, None, "QEMU")

    def create_associated_board(self):
        from pyocd.board.board import Board

        boards.register_targets()
        assert self.session is not None
        self.open()  # the board is known once the gdbstub answered
        return Board(self.session, board_info=self.associated_board_info)

    @property
    def board(self) -> boards.BoardSpec | None:
        return self._board

    # -- open/close --------------------------------------------------------------------------
    def open(self) -> None:
        if self._is_open:
            return
        try:
            sock, machine = self._connect_gdbstub()
            conn = RspConnection(sock, 5.0, name=f"{self.unique_id} gdbstub")
            _sync(conn)
            self._rsp = RspClient(conn)
            self._rsp.handshake()
            if machine is None:
                self._board = boards.detect(self._rsp.monitor("info mtree -f"))
            else:
                self._board = boards.BOARDS.get(machine)
                if self._board is None:
                    raise HarnessError(f"{self.unique_id}: no qemu: probe board for QEMU "
                                       f"machine {machine!r}; known: {', '.join(boards.BOARDS)}")
        except BaseException:
            self._release()
            raise
        b = self._board
        self.core = GdbCore(self._rsp, [Region(*r) for r in b.writable], scratch=b.ram[0],
                            name=self.unique_id)
        self.unit = DebugUnit(self.core, b.cpu)
        self._memif = QemuMemoryInterface(self)
        self._is_open = True
        boards.register_targets()

    def _connect_gdbstub(self) -> tuple[socket.socket, str | None]:
        if self._kind == "auto":
            self._served = launch.serve(str(self._where))
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(str(self._served.gdb))
            return s, str(self._where)
        if self._kind == "unix":
            loc = launch.local(str(self._where))
            if loc is not None:
                return loc.sock, loc.machine
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(str(self._where))
            except OSError as exc:
                s.close()
                raise exceptions.ProbeError(f"{self.unique_id}: cannot connect to the gdbstub "
                                            f"({exc})") from None
            return s, None
        host, port = self._where  # type: ignore[misc]
        s = socket.create_connection((host, port), timeout=5.0)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s, None

    def close(self) -> None:
        self._release()
        self._is_open = False

    def _release(self) -> None:
        if self._rsp is not None:
            self._rsp.close()
            self._rsp = None
        if self._served is not None:
            self._served.close()
            self._served = None

    # -- target control ----------------------------------------------------------------------
    def connect(self, protocol=None) -> None:
        self._protocol = DebugProbe.Protocol.SWD
        if self.session is not None and not self.session.options.is_set("reset.post_delay"):
            self.session.options["reset.post_delay"] = 0.0  # an emulated reset is instant

    def disconnect(self) -> None:
        self._protocol = None

    def swj_sequence(self, length: int, bits: int) -> None:
        pass

    def set_clock(self, frequency: float) -> None:
        pass

    def reset(self) -> None:
        """nRESET pulse: a system reset (honours DEMCR.VC_CORERESET)."""
        with self._guard():
            self.unit._reset()

    def assert_reset(self, asserted: bool) -> None:
        with self._guard():
            if asserted and not self._reset_asserted:
                if self.core.running:
                    self.core.halt()
            elif not asserted and self._reset_asserted:
                self.unit._reset()
            self._reset_asserted = asserted

    def is_reset_asserted(self) -> bool:
        return self._reset_asserted

    def flush(self) -> None:
        pass

    # -- DAP ---------------------------------------------------------------------------------
    def read_dp(self, addr, now=True):
        value = self.dp.read_dp(addr)
        return value if now else (lambda: value)

    def write_dp(self, addr, data) -> None:
        self.dp.write_dp(addr, data)

    def read_ap(self, addr, now=True):
        value = self.dp.read_ap(addr)
        return value if now else (lambda: value)

    def write_ap(self, addr, data) -> None:
        self.dp.write_ap(addr, data)

    def read_ap_multiple(self, addr, count=1, now=True):
        values = [self.dp.read_ap(addr) for _ in range(count)]
        return values if now else (lambda: values)

    def write_ap_multiple(self, addr, values) -> None:
        for v in values:
            self.dp.write_ap(addr, v)

    def get_memory_interface_for_ap(self, ap_address):
        if getattr(ap_address, "nominal_address", 0) == 0:
            return self._memif
        return None

    # -- errors ------------------------------------------------------------------------------
    def _guard(self):
        return _Guard(self)


class _Guard:
    """Turns a lost gdbstub into pyOCD's ProbeDisconnected, naming the probe."""

    def __init__(self, probe: QemuProbe) -> None:
        self.probe = probe

    def __enter__(self) -> None:
        if not self.probe._is_open or self.probe.unit is None:
            raise ProbeGone(f"{self.probe.unique_id}: probe is not open")

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None or isinstance(exc, exceptions.Error):
            return False
        if isinstance(exc, (HarnessError, OSError)):
            served = self.probe._served
            why = str(exc)
            if served is not None and served.proc.poll() is not None:
                why += f" (QEMU exited with code {served.proc.returncode})"
            raise ProbeGone(f"{self.probe.unique_id}: {why}") from exc
        return False


class QemuMemoryInterface(MemoryInterface):
    """AP #0's memory: debug registers from :class:`DebugUnit`, everything else via gdbstub."""

    def __init__(self, probe: QemuProbe) -> None:
        self.probe = probe

    @property
    def unit(self) -> DebugUnit:
        return self.probe.unit  # type: ignore[return-value]

    @property
    def core(self) -> GdbCore:
        return self.probe.core  # type: ignore[return-value]

    # single transfers
    def write_memory(self, addr, data, transfer_size=32, **attrs) -> None:
        size = transfer_size // 8
        with self.probe._guard():
            if addr >= DEBUG_SPACE and size == 4 and self.unit.write32(addr, data):
                return
            self.core.write(addr, (data & ((1 << transfer_size) - 1)).to_bytes(size, "little"),
                            size)

    def read_memory(self, addr, transfer_size=32, now=True, **attrs):
        size = transfer_size // 8
        with self.probe._guard():
            value = None
            if addr >= DEBUG_SPACE:
                word = self.unit.read32(addr & ~3)
                if word is not None:
                    value = word >> (8 * (addr & 3)) & ((1 << transfer_size) - 1)
            if value is None:
                value = int.from_bytes(self.core.read(addr, size), "little")
        return value if now else (lambda: value)

    # blocks
    def read_memory_block32(self, addr, size, **attrs):
        with self.probe._guard():
            if addr >= DEBUG_SPACE:
                return [self.read_memory(addr + 4 * i) for i in range(size)]
            return list(struct.unpack(f"<{size}I", self.core.read(addr, 4 * size)))

    def write_memory_block32(self, addr, data, **attrs) -> None:
        with self.probe._guard():
            if addr >= DEBUG_SPACE:
                for i, v in enumerate(data):
                    self.write_memory(addr + 4 * i, v)
                return
            self.core.write(addr, struct.pack(f"<{len(data)}I", *data), 4)

    def read_memory_block8(self, addr, size, **attrs):
        with self.probe._guard():
            if addr >= DEBUG_SPACE:
                return [self.read_memory(addr + i, 8) for i in range(size)]
            return list(self.core.read(addr, size))

    def write_memory_block8(self, addr, data, **attrs) -> None:
        with self.probe._guard():
            if addr >= DEBUG_SPACE:
                for i, v in enumerate(data):
                    self.write_memory(addr + i, v, 8)
                return
            self.core.write(addr, bytes(data), 1)
