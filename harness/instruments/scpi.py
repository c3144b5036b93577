"""SCPI over PyVISA: one session per instrument, errors and timeouts that name the resource.

Terminations are set explicitly (raw SOCKET resources have none by default), every call may have
its own timeout, ``*IDN?`` is read once at open, and TCP_NODELAY is set on every TCP socket
behind a resource (``visa_socket``).

Checked settings. A rejected setting is an exception at the line that sent it, naming the
setting, the instrument and the resource, without a round trip of its own: the setting goes out
in one program message with ``*ESR?`` after it (``VOLT 12,(@2);*ESR?``), and the IEEE 488.2
standard event status register answers whether it raised a command, execution,
device-dependent or query error (``*ESR?`` is read and cleared at once, so each answer covers
exactly what ran since the one before). Only then is the error queue drained with ``SYST:ERR?``
for the codes and texts. Several settings go in one message the same way (``write_all``: ``A;
*ESR?;:B;*ESR?``), each with its own ``*ESR?``, so an error is still pinned on the setting that
caused it; ``opc`` puts ``*OPC?`` before the last ``*ESR?`` to wait for the operation to
complete as well. A setting that must not run after a failed one goes in a message of its own
(a supply's output switch after its voltage and current limit). Every IEEE 488.2 instrument
has ``*ESR?``; one that answers anything else than an integer per setting is out of step.

Timeouts. Every wait of a session (open, each write, each answer, the resync) is its base
timeout times the session's ``timeout_factor`` (the run's factor for a loaded machine);
messages give the scaled limit in ms. On a raw TCP socket opened by pyvisa-py the session
reads and writes the socket itself (through pyvisa-py's buffer, see ``visa_socket``): every
wait there ends at the call's deadline, a full send buffer cannot block a write forever, and
an instrument that closed the connection is reported at once ("closed the connection") rather
than as a timeout; after that every call says the connection is gone.

Staying in step. A query that timed out may still be answered later; taken as the answer to
the next query, that late line would be a wrong value with no error. So a timed-out query (or
an answer that is not SCPI text or not a number) marks the session *stale*, and before its
next command the session resynchronises: it sends the compound query ``*IDN?;*OPC?`` and reads
and discards lines until the marker's answer comes back, within the scaled timeout of the call
that went wrong plus the session's own, and at most ``RESYNC_LINES`` lines. The marker's
answer is one line: the identity read at open, ``;``, then ``1``. A plain ``*IDN?`` is not
enough: a timed-out ``*IDN?`` (the query an overloaded serial line loses first) has the same
answer as the marker. Neither is ``*OPC?`` alone, which ``opc()`` sends after every output
switch. No single query answers ``<identity>;1``, the instrument answers commands in order
(so every late answer comes before the marker's), ``*OPC?`` first waits for pending
operations, and nothing in the instrument changes (an echo through ``*ESE n`` / ``*ESE?``
would overwrite the event enable register). A marker that itself goes unanswered is not
reused: the n-th attempt in a row sends ``*IDN?`` followed by n ``;*OPC?`` and waits for
exactly n ``1`` fields, so an old marker's answer cannot end a later resync. The marker's
answer is recognised at the end of a line, so an unterminated fragment the instrument sent
before it does not hide it. A session that cannot resync raises an InstrumentError saying
it is out of step, sends nothing of the command, and stays stale (the next call tries again;
after ``MAX_RESYNCS`` failed attempts it gives up for good). IEEE 488.2 instruments accept
compound queries; one that does not cannot resync and says so.

A serial (ASRL) line outlives sessions: a previous session's unread or late answers may still
be in the port's buffers. Opening one discards its input buffer and confirms the session is
in step with the same marker before it is used.
"""

from __future__ import annotations

import contextlib
import math
import re
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import patience
from .errors import ESR_ERRORS, InstrumentError, InstrumentTimeout, ScpiError
from .visa_socket import socket_of, wait_ready

if TYPE_CHECKING:
    from pyvisa import ResourceManager
    from pyvisa.resources import MessageBasedResource

MAX_ERRORS = 32  # SCPI error queues hold at most a few dozen entries
_ESR_MASK = sum(ESR_ERRORS)  # the *ESR bits errors set
_NR1 = re.compile(r"[+-]?\d+")
MAX_ANSWER = 1 << 20  # bytes of one answer line on a socket (more: garbage, not an answer)
RESYNC_LINES = 64  # late lines a resync reads and discards at most before giving up
MAX_RESYNCS = 16  # failed resyncs in a row before a session gives up for good
# SCPI <NRf>: NR1, NR2 or NR3 (float() alone would also take "nan", "inf" and "1_0")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_NOT_TEXT = re.compile(rb"[^\t\r\x20-\x7e]")  # an answer line is printable ASCII
_RM: dict[str, ResourceManager] = {}
_RM_LOCK = threading.Lock()


def resource_manager(backend: str = "@py") -> ResourceManager:
    """One PyVISA ResourceManager per backend and process (``@py`` = pyvisa-py)."""
    with _RM_LOCK:
        if backend not in _RM:
            import pyvisa

            _RM[backend] = pyvisa.ResourceManager(backend)
        return _RM[backend]


@dataclass(frozen=True)
class Identity:
    """The four fields of a ``*IDN?`` answer."""

    maker: str
    model: str
    serial: str
    firmware: str

    @classmethod
    def parse(cls, text: str, resource: str = "") -> Identity:
        parts = [p.strip() for p in text.strip().split(",")]
        if len(parts) != 4 or not all(parts[:2]):
            raise InstrumentError(f"{resource}: '*IDN?' answered {text!r}; expected "
                                  f"'maker,model,serial,firmware'")
        return cls(*parts)

    def __str__(self) -> str:
        return f"{self.maker} {self.model} s/n {self.serial} fw {self.firmware}"


def parse_error(text: str) -> tuple[int, str]:
    """``-113,"Undefined header"`` → (-113, 'Undefined header')."""
    code, _, msg = text.strip().partition(",")
    try:
        return int(code), msg.strip().strip('"')
    except ValueError:
        raise InstrumentError(f"'SYST:ERR?' answered {text!r}; expected 'code,\"text\"'") from None


class ScpiSession:
    """A SCPI conversation with one instrument through a PyVISA resource.

    ``timeout_ms`` is the base timeout of every call (a call may give its own base); each is
    multiplied by ``timeout_factor``.
    """

    def __init__(self, resource: str, *, timeout_ms: int = 2000, timeout_factor: float = 1.0,
                 rm: ResourceManager | None = None,
                 read_termination: str = "\n", write_termination: str = "\n",
                 serial: dict[str, Any] | None = None, name: str = "") -> None:
        """``serial``: PyVISA serial attributes (baud_rate, parity...) for an ASRL resource;
        ``name``: the instrument's name in the bench inventory, for messages."""
        from pyvisa.resources import MessageBasedResource

        if not (math.isfinite(timeout_factor) and timeout_factor > 0):
            raise ValueError(f"{resource}: timeout_factor must be a positive number, "
                             f"not {timeout_factor!r}")
        self.resource = resource
        self.name = name
        self.timeout_ms = timeout_ms
        self.timeout_factor = timeout_factor
        self._term = read_termination.encode()
        self._wterm = write_termination
        self._lock = threading.RLock()
        # why an answer may still be on its way, and how long its call could wait (ms)
        self._stale: tuple[str, int] | None = None
        self._resyncs = 0        # failed resyncs since the session was last in step
        self._lost: str | None = None  # why the session cannot be used any more
        self._idn = ""
        limit = self.limit_ms()
        rm = rm if rm is not None else resource_manager()
        try:
            res = rm.open_resource(resource, read_termination=read_termination,
                                   write_termination=write_termination,
                                   timeout=limit, open_timeout=limit, **(serial or {}))
        except Exception as exc:  # pyvisa raises several types for a bad resource string
            raise InstrumentError(f"{resource}: cannot open: {exc}") from exc
        if not isinstance(res, MessageBasedResource):  # e.g. a register-based PXI/VXI card
            with contextlib.suppress(Exception):
                res.close()
            raise InstrumentError(f"{resource}: a {type(res).__name__}, not a message-based "
                                  f"resource: SCPI cannot be sent to it")
        self._res: MessageBasedResource = res
        self._timeout = limit
        self._visa, self._sock = socket_of(res, self._term)
        try:
            serial_line = resource.upper().startswith("ASRL")
            if serial_line:  # what an earlier session left unread on the line
                from pyvisa.constants import BufferOperation

                with contextlib.suppress(Exception):
                    res.flush(BufferOperation.discard_read_buffer)
            self._idn = self.query("*IDN?")
            self.identity = Identity.parse(self._idn, resource)
            if serial_line:  # and what was still on its way: confirm the session is in step
                with self._lock:
                    self._stale = ("a previous session may have left answers on the line",
                                   limit)
                    self._resync(None)
        except BaseException:
            self.close()
            raise

    # -- timeouts ----------------------------------------------------------------------------
    def limit_ms(self, base_ms: float | None = None) -> int:
        """``base_ms`` (default: the session's ``timeout_ms``) times the timeout factor and
        the machine's load now (:mod:`harness.patience`)."""
        base = self.timeout_ms if base_ms is None else base_ms
        return max(1, math.ceil(patience.limit(base, self.timeout_factor)))

    def _within(self, limit: int) -> str:
        if self.timeout_factor == 1 and patience.machine() == 1:
            return f"within {limit} ms"
        return (f"within {limit} ms (timeout factor {self.timeout_factor:g}, machine load "
                f"x{patience.machine():.2g})")

    def _set_timeout(self, ms: int) -> None:
        if ms != self._timeout:
            self._res.timeout = ms
            self._timeout = ms

    # -- I/O ---------------------------------------------------------------------------------
    def _call(self, command: str, base_ms: int | None, answer: bool) -> bytes | None:
        """Send ``command`` and, with ``answer``, read one answer line (without termination)."""
        with self._lock:
            if self._lost is not None:
                raise InstrumentError(f"{self.resource}: {self._lost}; cannot send {command!r}")
            if self._stale is not None:
                self._resync(command)
            limit = self.limit_ms(base_ms or self.timeout_ms)
            deadline = time.monotonic() + limit / 1000
            try:
                self._send(command, limit, deadline)
                return self._receive(command, limit, deadline) if answer else None
            except InstrumentTimeout:
                if self._lost is None:
                    self._stale = (f"{command!r} timed out", limit)
                raise

    def _send(self, command: str, limit: int, deadline: float) -> None:
        sock = self._sock
        if sock is None:
            self._set_timeout(limit)
            try:
                self._res.write(command)
            except Exception as exc:
                raise self._translate(exc, command, limit) from exc
            return
        try:
            data = (command + self._wterm).encode("ascii")
        except UnicodeEncodeError:
            raise InstrumentError(f"{self.resource}: {command!r} is not ASCII; SCPI commands "
                                  f"are") from None
        while data:
            try:
                data = data[sock.send(data, socket.MSG_DONTWAIT):]
            except BlockingIOError:
                pass
            except OSError as exc:
                raise self._gone(f"cannot send {command!r}",
                                 f"connection lost ({type(exc).__name__}: {exc})") from None
            if data and not wait_ready(sock, deadline, write=True):
                raise InstrumentTimeout(f"{self.resource}: could not send {command!r} "
                                        f"{self._within(limit)} (the instrument is not "
                                        f"reading)")

    def _receive(self, command: str, limit: int, deadline: float) -> bytes:
        """One answer line without its termination."""
        if self._sock is None:
            remaining = math.ceil((deadline - time.monotonic()) * 1000)
            # keep the resource's timeout unless sending took a good part of it
            self._set_timeout(limit if remaining > 0.9 * limit else max(1, remaining))
            try:
                raw = self._res.read_raw()
            except Exception as exc:
                raise self._translate(exc, command, limit) from exc
            return raw[:-len(self._term)] if raw.endswith(self._term) else raw
        # pyvisa-py's socket session: its buffer of received bytes is shared with it
        sock, term = self._sock, self._term
        while True:
            buf: bytearray = self._visa._pending_buffer  # type: ignore[union-attr]
            end = buf.find(term)
            if end >= 0:
                line = bytes(buf[:end])
                del buf[:end + len(term)]
                return line
            if len(buf) > MAX_ANSWER:
                buf.clear()
                raise self._bad_answer(command, b"", f"more than {MAX_ANSWER} bytes without "
                                       f"a line termination")
            if not wait_ready(sock, deadline):
                raise InstrumentTimeout(f"{self.resource}: no answer to {command!r} "
                                        f"{self._within(limit)}")
            try:
                chunk = sock.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue
            except OSError as exc:
                raise self._gone(f"{command!r} not answered",
                                 f"connection lost ({type(exc).__name__}: {exc})") from None
            if not chunk:
                raise self._gone(f"{command!r} not answered",
                                 "the instrument closed the connection")
            buf.extend(chunk)

    def _resync(self, command: str | None) -> None:
        """Read and discard late answers up to the answer of a marker query (module docstring).

        Called with the lock held when the session is stale, before ``command`` (None: at
        open); raises if it stays stale."""
        assert self._stale is not None
        cause, waited = self._stale
        if self._resyncs >= MAX_RESYNCS:
            self._lost = (f"session out of step ({cause}): {MAX_RESYNCS} resyncs in a row got "
                          f"no answer; close and reopen it")
            raise InstrumentError(f"{self.resource}: {self._lost}")
        self._resyncs += 1
        n = self._resyncs
        marker = "*IDN?" + ";*OPC?" * n
        limit = waited + self.limit_ms()  # the late answer's time, then the marker's own
        deadline = time.monotonic() + limit / 1000
        discarded: list[bytes] = []
        try:
            self._send(marker, limit, deadline)
            while len(discarded) < RESYNC_LINES:
                raw = self._receive(marker, limit, deadline)
                if self._is_marker_answer(raw, n):
                    self._stale = None
                    self._resyncs = 0
                    return
                discarded.append(raw)
        except InstrumentTimeout:
            pass
        seen = f"; discarded {len(discarded)} line(s)" if discarded else ""
        if discarded:
            seen += f", last {discarded[-1][:80]!r}"
        raise InstrumentError(
            f"{self.resource}: session out of step ({cause}): the resync query {marker!r} "
            f"got no answer ending in the identity and {n} x '1' "
            f"{self._within(limit)}{seen}; "
            + (f"{command!r} was not sent (the next command tries to resync again)"
               if command else "the session was not opened"))

    def _is_marker_answer(self, raw: bytes, n: int) -> bool:
        parts = [p.strip() for p in raw.decode("ascii", errors="replace").split(";")]
        return (bool(self._idn) and len(parts) > n and parts[-n - 1].endswith(self._idn)
                and all(p.lstrip("+") == "1" for p in parts[-n:]))

    def _gone(self, what: str, why: str) -> InstrumentError:
        """The connection is gone: this and every later call is an error saying why."""
        self._lost = why
        self._stale = None
        return InstrumentError(f"{self.resource}: {why}; {what}")

    def _translate(self, exc: Exception, command: str, timeout_ms: int) -> InstrumentError:
        from pyvisa import constants, errors

        if isinstance(exc, errors.VisaIOError) and \
                exc.error_code == constants.StatusCode.error_timeout:
            return InstrumentTimeout(f"{self.resource}: no answer to {command!r} "
                                     f"{self._within(timeout_ms)}")
        if isinstance(exc, errors.InvalidSession):
            self._lost = "session closed"
            return InstrumentError(f"{self.resource}: session closed; cannot send {command!r}")
        if isinstance(exc, OSError) or type(exc).__name__ == "SerialException":
            self._lost = f"connection lost ({type(exc).__name__}: {exc})"
            return InstrumentError(f"{self.resource}: {command!r} failed: {self._lost}")
        return InstrumentError(f"{self.resource}: {command!r} failed: "
                               f"{type(exc).__name__}: {exc}")

    def _bad_answer(self, command: str, raw: bytes | str, what: str) -> InstrumentError:
        """An answer that is no answer to ``command``: resync before the next command."""
        if isinstance(raw, bytes) and len(raw) > 80:
            raw = raw[:80] + b"..."
        elif isinstance(raw, str) and len(raw) > 80:
            raw = raw[:80] + "..."
        with self._lock:
            if self._lost is None:
                self._stale = (f"{command!r} answered {raw!r}", self.limit_ms())
        return InstrumentError(f"{self.resource}: {command!r} answered {raw!r}, {what}")

    # -- commands ----------------------------------------------------------------------------
    def write(self, command: str, *, check: bool = True, opc: bool = False,
              timeout_ms: int | None = None) -> None:
        """Send a setting command. With ``check`` (the default) it goes out as
        ``command;*ESR?`` and an error it raised is a ScpiError naming it (module docstring);
        ``opc`` also waits until the operation completed (``*OPC?``)."""
        if check:
            self.write_all([command], opc=opc, timeout_ms=timeout_ms)
            return
        self._call(command, timeout_ms, answer=False)
        if opc:
            self.opc(timeout_ms)

    def write_all(self, commands: Sequence[str], *, opc: bool = False,
                  timeout_ms: int | None = None) -> None:
        """Send settings in one program message, each checked by a ``*ESR?`` of its own; one
        round trip. Every setting is sent and executed even if an earlier one fails: put one
        that must not run after a failure in a call of its own. Raises ScpiError naming the
        (first) setting that raised errors, with the codes drained from the error queue."""
        if not commands:
            return
        units: list[str] = []
        for i, command in enumerate(commands):
            # a later unit starts from the root of the command tree, whatever came before
            units.append(command if i == 0 or command.startswith((":", "*")) else f":{command}")
            if opc and i == len(commands) - 1:
                units.append("*OPC?")
            units.append("*ESR?")
        message = ";".join(units)
        text = self.query(message, timeout_ms)
        fields = [f.strip() for f in text.split(";")]
        expected = len(units) - len(commands)
        if len(fields) != expected or not all(_NR1.fullmatch(f) for f in fields):
            raise self._bad_answer(message, text, f"expected {expected} integer(s) "
                                   f"separated by ';'")
        if opc and fields.pop(-2).lstrip("+") != "1":
            raise self._bad_answer(message, text, "'*OPC?' did not answer 1")
        failed = [(command, int(f)) for command, f in zip(commands, fields, strict=True)
                  if int(f) & _ESR_MASK]
        if failed:
            raise ScpiError(self.resource, failed[0][0], self.errors(), instrument=self.who,
                            also=[c for c, _ in failed[1:]], esr=failed[0][1])

    @property
    def who(self) -> str:
        """The instrument, for messages: its inventory name and what it answered to *IDN?."""
        ident = getattr(self, "identity", None)
        model = f"{ident.maker} {ident.model}" if ident is not None else ""
        return ", ".join(p for p in (self.name, model) if p)

    def query(self, command: str, timeout_ms: int | None = None) -> str:
        """One answer line as text (printable ASCII; anything else is an InstrumentError)."""
        raw = self._call(command, timeout_ms, answer=True)
        assert raw is not None
        if _NOT_TEXT.search(raw):
            raise self._bad_answer(command, raw, "not SCPI text")
        return raw.decode("ascii").strip()

    def query_float(self, command: str, timeout_ms: int | None = None) -> float:
        text = self.query(command, timeout_ms)
        if not _NUMBER.fullmatch(text):
            raise self._bad_answer(command, text, "not a number")
        return float(text)

    def errors(self) -> list[tuple[int, str]]:
        """Drain the instrument's error queue (``SYST:ERR?`` until ``0,"No error"``)."""
        found: list[tuple[int, str]] = []
        for _ in range(MAX_ERRORS):
            text = self.query("SYST:ERR?")
            try:
                code, msg = parse_error(text)
            except InstrumentError:
                raise self._bad_answer("SYST:ERR?", text, "expected 'code,\"text\"'") from None
            if code == 0:
                return found
            found.append((code, msg))
        raise InstrumentError(f"{self.resource}: error queue did not empty after "
                              f"{MAX_ERRORS} reads; last {found[-1]}")

    def check_errors(self, command: str) -> None:
        """Drain the error queue; errors in it are a ScpiError pinned on ``command``."""
        found = self.errors()
        if found:
            raise ScpiError(self.resource, command, found, instrument=self.who)

    def opc(self, timeout_ms: int | None = None) -> None:
        """Wait until pending operations completed (``*OPC?`` answers 1)."""
        answer = self.query("*OPC?", timeout_ms)
        if answer.lstrip("+") != "1":
            raise self._bad_answer("*OPC?", answer, "not 1")

    def clear(self) -> None:
        """``*CLS``: empty the error queue and status registers."""
        self._call("*CLS", None, answer=False)

    @property
    def in_step(self) -> bool:
        """False while an answer to a timed-out query may still arrive (until a resync)."""
        return self._stale is None and self._lost is None

    def close(self) -> None:
        self._lost = "session closed"  # not under the lock: a call in progress may hold it
        with contextlib.suppress(Exception):
            self._res.close()

    def __repr__(self) -> str:
        return f"<ScpiSession {self.resource}>"
