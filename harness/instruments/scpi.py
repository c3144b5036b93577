"""SCPI over PyVISA: one session per instrument, errors and timeouts that name the resource.

Terminations are set explicitly (raw SOCKET resources have none by default), every call may have
its own timeout, ``*IDN?`` is read once at open, and ``SYST:ERR?`` is drained after every setting
command so a rejected setting is an exception at the line that sent it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import InstrumentError, InstrumentTimeout, ScpiError

if TYPE_CHECKING:
    from pyvisa import ResourceManager
    from pyvisa.resources import MessageBasedResource

MAX_ERRORS = 32  # SCPI error queues hold at most a few dozen entries
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
    """A SCPI conversation with one instrument through a PyVISA resource."""

    def __init__(self, resource: str, *, timeout_ms: int = 2000,
                 rm: ResourceManager | None = None,
                 read_termination: str = "\n", write_termination: str = "\n",
                 serial: dict[str, Any] | None = None) -> None:
        """``serial``: PyVISA serial attributes (baud_rate, parity...) for an ASRL resource."""
        from pyvisa.resources import MessageBasedResource

        self.resource = resource
        self.timeout_ms = timeout_ms
        rm = rm if rm is not None else resource_manager()
        try:
            res = rm.open_resource(resource, read_termination=read_termination,
                                   write_termination=write_termination,
                                   timeout=timeout_ms, **(serial or {}))
        except Exception as exc:  # pyvisa raises several types for a bad resource string
            raise InstrumentError(f"{resource}: cannot open: {exc}") from exc
        if not isinstance(res, MessageBasedResource):  # e.g. a register-based PXI/VXI card
            with contextlib.suppress(Exception):
                res.close()
            raise InstrumentError(f"{resource}: a {type(res).__name__}, not a message-based "
                                  f"resource: SCPI cannot be sent to it")
        self._res: MessageBasedResource = res
        self._timeout = timeout_ms
        self._lock = threading.RLock()
        self._stale = False  # a late answer to a timed-out query may still arrive
        try:
            self.identity = Identity.parse(self.query("*IDN?"), resource)
        except BaseException:
            self.close()
            raise

    # -- I/O ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _io(self, command: str, timeout_ms: int | None) -> Iterator[MessageBasedResource]:
        want = timeout_ms or self.timeout_ms
        with self._lock:
            if self._stale:
                self._drain()
            if want != self._timeout:
                self._res.timeout = want
                self._timeout = want
            try:
                yield self._res
            except InstrumentError:
                raise
            except Exception as exc:
                err = self._translate(exc, command, want)
                self._stale = isinstance(err, InstrumentTimeout)
                raise err from exc

    def _drain(self, quiet_ms: int = 50) -> None:
        """Discard answers that arrived after their query timed out."""
        self._res.timeout = self._timeout = quiet_ms
        for _ in range(64):
            try:
                self._res.read_raw()
            except Exception:
                break
        self._stale = False

    def _translate(self, exc: Exception, command: str, timeout_ms: int) -> InstrumentError:
        from pyvisa import constants, errors

        if isinstance(exc, errors.VisaIOError) and \
                exc.error_code == constants.StatusCode.error_timeout:
            return InstrumentTimeout(f"{self.resource}: no answer to {command!r} within "
                                     f"{timeout_ms} ms")
        if isinstance(exc, errors.InvalidSession):
            return InstrumentError(f"{self.resource}: session closed; cannot send {command!r}")
        return InstrumentError(f"{self.resource}: {command!r} failed: "
                               f"{type(exc).__name__}: {exc}")

    def write(self, command: str, *, check: bool = True, timeout_ms: int | None = None) -> None:
        """Send a setting command; with ``check`` drain the error queue and raise on errors."""
        with self._io(command, timeout_ms) as res:
            res.write(command)
        if check:
            self.check_errors(command)

    def query(self, command: str, timeout_ms: int | None = None) -> str:
        with self._io(command, timeout_ms) as res:
            return res.query(command).strip()

    def query_float(self, command: str, timeout_ms: int | None = None) -> float:
        text = self.query(command, timeout_ms)
        try:
            return float(text)
        except ValueError:
            raise InstrumentError(f"{self.resource}: {command!r} answered {text!r}, "
                                  f"not a number") from None

    def errors(self) -> list[tuple[int, str]]:
        """Drain the instrument's error queue (``SYST:ERR?`` until ``0,"No error"``)."""
        found: list[tuple[int, str]] = []
        for _ in range(MAX_ERRORS):
            code, msg = parse_error(self.query("SYST:ERR?"))
            if code == 0:
                return found
            found.append((code, msg))
        raise InstrumentError(f"{self.resource}: error queue did not empty after "
                              f"{MAX_ERRORS} reads; last {found[-1]}")

    def check_errors(self, command: str) -> None:
        found = self.errors()
        if found:
            raise ScpiError(self.resource, command, found)

    def opc(self, timeout_ms: int | None = None) -> None:
        """Wait until pending operations completed (``*OPC?`` answers 1)."""
        answer = self.query("*OPC?", timeout_ms)
        if answer.lstrip("+") != "1":
            raise InstrumentError(f"{self.resource}: '*OPC?' answered {answer!r}")

    def clear(self) -> None:
        """``*CLS``: empty the error queue and status registers."""
        with self._io("*CLS", None) as res:
            res.write("*CLS")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._res.close()

    def __repr__(self) -> str:
        return f"<ScpiSession {self.resource}>"
