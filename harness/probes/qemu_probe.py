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

Failures say what happened, at once or within a bound (the ``probe_connect`` and
``probe_reply`` waits of :mod:`harness.patience`, scaled by the run's ``--timeout-factor``
exported to pyOCD's process and by the machine's load), never by waiting forever:

* an explicit ``qemu:`` id always yields a probe (from :meth:`get_all_connected_probes`;
  pyOCD would otherwise wait forever for it to appear); opening it raises
  :class:`ProbeUnreachable` naming the id and what was tried;
* a chip another debugger holds raises :class:`ProbeBusy` ("... is busy (held by pid N: ...)")
  without touching the gdbstub (see :class:`harness.probes.chips.ChipLock`);
* a QEMU lost while open raises :class:`ProbeGone` with QEMU's exit status and own message.

The System Control Space reads the same through every pyOCD access path: byte and halfword
reads of 0xE0000000 and up are answered from whole aligned words, as QEMU's SCS answers only
word reads (a byte read of CPUID gives 0 there).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
from pathlib import Path
from types import TracebackType

from pyocd.core import exceptions
from pyocd.core.memory_interface import MemoryInterface
from pyocd.probe.debug_probe import DebugProbe

from .. import patience
from ..emu.process import qemu_gone
from ..emu.rsp import RspClient
from ..emu.rsp_wire import RspConnection
from ..errors import HarnessError
from . import boards, chips, dwt
from .coresight import DebugPortModel
from .debug_unit import DebugUnit
from .gdb_core import GdbCore, Region

LOG = logging.getLogger(__name__)
DEBUG_SPACE = 0xE0000000
ONE_CLIENT = ("QEMU's gdbstub serves one debugger at a time: is another one (pyocd gdbserver, "
              "gdb, a test) attached to it?")


class ProbeGone(exceptions.ProbeDisconnected):
    """The QEMU behind a ``qemu:`` probe went away (killed, crashed, socket closed)."""


class ProbeBusy(exceptions.ProbeError):
    """Another debugger holds the emulated chip."""


class ProbeUnreachable(exceptions.ProbeError, HarnessError):
    """No gdbstub answers where the probe id points (for pyOCD a probe error, for the harness
    a harness error)."""


def _parse(uid: str) -> tuple[str, str | tuple[str, int]]:
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


class QemuProbe(DebugProbe):
    """One QEMU gdbstub as an SWD debug probe with one Cortex-M behind it."""

    @classmethod
    def get_all_connected_probes(cls, unique_id=None, is_explicit=False):
        """The chips of this process and the served ones; for an explicit ``qemu:`` id that is
        none of them, a probe all the same: opening it says why it cannot be reached, where
        pyOCD would otherwise wait forever for it to appear."""
        ids = chips.local_ids() + [str(p) for p in chips.served_sockets()]
        probes = [cls(i) for i in dict.fromkeys(ids)]
        if is_explicit and unique_id is not None \
                and not any(unique_id.lower() in p.unique_id.lower() for p in probes):
            probe = cls.get_probe_with_id(unique_id, is_explicit)
            if probe is None:
                with contextlib.suppress(HarnessError):
                    _parse(unique_id)
                    probe = cls(unique_id)
            return [probe] if probe is not None else []
        return probes

    @classmethod
    def get_probe_with_id(cls, unique_id, is_explicit=False):
        try:
            kind, where = _parse(unique_id)
        except HarnessError:
            return None
        if isinstance(where, str) and kind == "unix" and chips.local(where) is None \
                and not Path(where).exists():
            return None
        return cls(unique_id)

    def __init__(self, uid: str) -> None:
        super().__init__()
        self._uid = uid
        self._kind, self._where = _parse(uid)
        self._served: chips.Served | None = None
        self._lock_file: chips.ChipLock | None = None
        self._local: chips.LocalQemu | None = None
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
        if self._kind == "unix" and (loc := chips.local(str(self._where))):
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
            # receives and sends wait with deadlines (RspConnection): a QEMU that stopped
            # reading or answering never blocks us for good. The handshake skips what QEMU
            # sends on (re)connection (an old stop reply).
            self._rsp = RspClient(RspConnection(sock, patience.factored("probe_reply"),
                                                name=f"{self.unique_id} gdbstub"))
            try:
                self._rsp.handshake()
            except HarnessError as exc:
                raise ProbeUnreachable(
                    f"probe {self.unique_id}: the gdbstub at {self._where_text()} accepted the "
                    f"connection but did not answer the handshake ({exc}). {ONE_CLIENT}"
                    f"{self._qemu_report()}") from None
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
        self.unit = DebugUnit(self.core, b.cpu, dwt.Dwt.for_gdbstub(self.core, sock, b.cpu))
        self.unit.lockup_check = self.unit.runnable  # QEMU aborts where silicon locks up
        self._memif = QemuMemoryInterface(self)
        self._is_open = True
        boards.register_targets()

    def _where_text(self) -> str:
        if isinstance(self._where, tuple):
            return f"{self._where[0]}:{self._where[1]}"
        return str(self._served.gdb if self._served is not None else self._where)

    def _qemu_report(self) -> str:
        """What became of the QEMU behind this probe, when we can know (else "")."""
        if self._served is not None:
            report = self._served.exit_report()
            return f"; {report}" if report else ""
        if self._local is not None and self._local.diagnosis is not None:
            try:
                return f"; {self._local.diagnosis()}"
            except Exception:  # noqa: BLE001 (a report must not hide the error it explains)
                return ""
        if self._kind == "unix" and chips.lock_path(str(self._where)) is not None:
            # a chip served by a launcher in another process: whether its QEMU still runs,
            # and QEMU's own words, if it left any
            log = Path(str(self._where)).with_name("qemu.log")
            gone = qemu_gone(log.parent)
            try:
                said = log.read_text(errors="replace").strip().splitlines()[-5:]
            except OSError:
                said = []
            text = f"; {gone}" if gone else ""
            if said:
                text += "; QEMU's log (" + str(log) + "):\n  " + "\n  ".join(said)
            return text
        return ""

    def _take_lock(self, gdb_socket: str) -> None:
        """Hold the chip's lock file while open, or fail at once naming the holder."""
        path = chips.lock_path(gdb_socket)
        if path is None:
            return
        lock = chips.ChipLock(path)
        try:
            holder = lock.acquire()
        except OSError as exc:
            raise ProbeUnreachable(f"probe {self.unique_id} cannot be reached: its run dir "
                                   f"{path.parent} is not usable ({exc})") from None
        if holder is not None:
            raise ProbeBusy(f"probe {self.unique_id} is busy (held by {holder}); "
                            f"QEMU's gdbstub serves one debugger at a time: close that one "
                            f"first")
        self._lock_file = lock

    def _unix_connect(self, path: str, tried: list[str]) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(patience.limit("probe_connect"))
        try:
            s.connect(path)
        except OSError as exc:
            s.close()
            if isinstance(exc, FileNotFoundError):
                tried.append(f"the unix socket {path}: it does not exist (start a chip with "
                             f"python -m harness.probes.launch)")
                available = [f"qemu:{i}" for i in chips.local_ids()]
                available += [f"qemu:{p}" for p in chips.served_sockets()]
                raise ProbeUnreachable(f"no debug probe with unique id {self.unique_id!r}; "
                                       f"available: {', '.join(available) or 'none'}; tried "
                                       f"{'; '.join(tried)}") from None
            tried.append(f"the unix socket {path}: connecting to it failed: "
                         f"{exc.strerror or exc}")
            raise ProbeUnreachable(f"probe {self.unique_id} cannot be reached; tried "
                                   f"{'; '.join(tried)}{self._qemu_report()}") from None
        return s

    def _connect_gdbstub(self) -> tuple[socket.socket, str | None]:
        tried: list[str] = []
        if self._kind == "auto":
            self._served = chips.serve(str(self._where))
            self._take_lock(str(self._served.gdb))
            return self._unix_connect(str(self._served.gdb), tried), str(self._where)
        if self._kind == "unix":
            path = str(self._where)
            loc = chips.local(path)
            if loc is not None:
                self._local = loc
                self._take_lock(path)
                return loc.sock, loc.machine
            tried.append("the emulated chips of this process (none under that path)")
            if Path(path).exists():  # no lock file is made in a dir without a chip
                self._take_lock(path)
            return self._unix_connect(path, tried), None
        assert isinstance(self._where, tuple)
        host, port = self._where
        wait = patience.limit("probe_connect")
        try:
            s = socket.create_connection((host, port), timeout=wait)
        except OSError as exc:
            raise ProbeUnreachable(f"probe {self.unique_id} cannot be reached; tried TCP "
                                   f"{host}:{port} for {wait:.1f} s: "
                                   f"{exc.strerror or exc}") from None
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s, None

    def close(self) -> None:
        self._release()
        self._is_open = False

    def _release(self) -> None:
        if self._rsp is not None:
            self._rsp.close()
            self._rsp = None
        self._local = None
        if self._served is not None:
            self._served.close()
            self._served = None
        if self._lock_file is not None:
            self._lock_file.release()
            self._lock_file = None

    # -- target control ----------------------------------------------------------------------
    def connect(self, protocol=None) -> None:
        self._protocol = DebugProbe.Protocol.SWD
        if self.session is None:
            return
        # An emulated reset is instant and the core answers at once: no delay after it, and no
        # polling of DHCSR until S_RESET_ST clears (pyOCD sleeps 10 ms between two polls).
        for option in ("reset.post_delay", "reset.core_recover.timeout"):
            if not self.session.options.is_set(option):
                self.session.options[option] = 0.0

    def disconnect(self) -> None:
        self._protocol = None

    def swj_sequence(self, length: int, bits: int) -> None:
        pass

    def set_clock(self, frequency: float) -> None:
        pass

    def reset(self) -> None:
        """nRESET pulse: a system reset (honours DEMCR.VC_CORERESET)."""
        with self._guard():
            self._open_unit().system_reset()

    def assert_reset(self, asserted: bool) -> None:
        with self._guard():
            unit = self._open_unit()
            if asserted and not self._reset_asserted:
                if unit.core.running:
                    unit.core.halt()
            elif not asserted and self._reset_asserted:
                unit.system_reset()
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
    def _guard(self) -> _Guard:
        return _Guard(self)

    def _open_unit(self) -> DebugUnit:
        if not self._is_open or self.unit is None:
            raise ProbeGone(f"{self.unique_id}: probe is not open")
        return self.unit


class _Guard:
    """Turns a lost gdbstub into pyOCD's ProbeDisconnected, naming the probe."""

    def __init__(self, probe: QemuProbe) -> None:
        self.probe = probe

    def __enter__(self) -> None:
        self.probe._open_unit()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None or isinstance(exc, exceptions.Error):
            return
        if isinstance(exc, (HarnessError, OSError)):
            raise ProbeGone(f"{self.probe.unique_id}: {exc}{self.probe._qemu_report()}") \
                from exc


class QemuMemoryInterface(MemoryInterface):
    """AP #0's memory: debug registers from :class:`DebugUnit`, everything else via gdbstub."""

    def __init__(self, probe: QemuProbe) -> None:
        self.probe = probe

    @property
    def unit(self) -> DebugUnit:
        return self.probe._open_unit()

    @property
    def core(self) -> GdbCore:
        return self.probe._open_unit().core

    # the debug space (0xE0000000 and up): whole aligned words, whatever the access width
    def _debug_word(self, addr: int) -> int:
        word = self.unit.read32(addr)
        if word is None:  # a QEMU register: its SCS answers word reads only
            word = int.from_bytes(self.core.read(addr, 4), "little")
        return word

    def _debug_bytes(self, addr: int, length: int) -> bytes:
        first, end = addr & ~3, (addr + length + 3) & ~3
        data = b"".join(self._debug_word(a).to_bytes(4, "little") for a in range(first, end, 4))
        return data[addr - first:addr - first + length]

    def _debug_write(self, addr: int, data: int, size: int) -> None:
        if size == 4 and addr & 3 == 0:
            if not self.unit.write32(addr, data):
                self.core.write(addr, data.to_bytes(4, "little"), 4)
            return
        if self.unit.handles(addr & ~3):  # an emulated register: merge into its word
            shift = 8 * (addr & 3)
            mask = ((1 << (8 * size)) - 1) << shift
            word = self._debug_word(addr & ~3) & ~mask | (data << shift) & mask
            self.unit.write32(addr & ~3, word)
            return
        self.core.write(addr, data.to_bytes(size, "little"), size)  # strb/strh by the core

    # single transfers
    def write_memory(self, addr, data, transfer_size=32, **attrs) -> None:
        size = transfer_size // 8
        data &= (1 << transfer_size) - 1
        with self.probe._guard():
            if addr >= DEBUG_SPACE:
                self._debug_write(addr, data, size)
                return
            self.core.write(addr, data.to_bytes(size, "little"), size)

    def read_memory(self, addr, transfer_size=32, now=True, **attrs):
        size = transfer_size // 8
        with self.probe._guard():
            if addr >= DEBUG_SPACE:
                value = int.from_bytes(self._debug_bytes(addr, size), "little")
            else:
                value = int.from_bytes(self.core.read(addr, size), "little")
        return value if now else (lambda: value)

    # blocks
    def read_memory_block32(self, addr, size, **attrs):
        with self.probe._guard():
            if addr >= DEBUG_SPACE:
                return list(struct.unpack(f"<{size}I", self._debug_bytes(addr, 4 * size)))
            return list(struct.unpack(f"<{size}I", self.core.read(addr, 4 * size)))

    def write_memory_block32(self, addr, data, **attrs) -> None:
        with self.probe._guard():
            if addr >= DEBUG_SPACE:
                for i, v in enumerate(data):
                    self._debug_write(addr + 4 * i, v, 4)
                return
            self.core.write(addr, struct.pack(f"<{len(data)}I", *data), 4)

    def read_memory_block8(self, addr, size, **attrs):
        with self.probe._guard():
            if addr >= DEBUG_SPACE:
                return list(self._debug_bytes(addr, size))
            return list(self.core.read(addr, size))

    def write_memory_block8(self, addr, data, **attrs) -> None:
        with self.probe._guard():
            if addr >= DEBUG_SPACE:
                if addr & 3 == 0 and len(data) % 4 == 0:  # whole words: word writes
                    for i in range(0, len(data), 4):
                        self._debug_write(addr + i, int.from_bytes(bytes(data[i:i + 4]),
                                                                   "little"), 4)
                    return
                for i, v in enumerate(data):
                    self._debug_write(addr + i, v, 1)
                return
            self.core.write(addr, bytes(data), 1)
