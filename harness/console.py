"""A chip's text console: one reader thread, one timestamped buffer, expect-style waiting.

The buffer keeps everything the chip printed. ``expect`` consumes (moves a cursor past the
match); ``read_since(mark)`` and ``expect(..., since=mark)`` look back without losing anything,
so a test can take a mark, act, and then check what came out in between.
"""

from __future__ import annotations

import codecs
import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from . import patience
from .errors import CommandError, ConsoleTimeout, DutFault, DutLost

FAULT_RE = re.compile(r"^\*\*\* HARDFAULT.*$", re.MULTILINE)
ANSWER_RE = re.compile(r"^(OK|ERR)(?: (.*?))?\r?$", re.MULTILINE)
Pattern = str | re.Pattern[str]


@dataclass(frozen=True)
class Match:
    index: int  # which of the patterns matched
    match: re.Match[str]
    start: int  # buffer offsets
    end: int

    def group(self, *args):
        return self.match.group(*args)

    def __getitem__(self, key):
        return self.match[key]


# A wait that ran out on the host's clock, on a chip with a clock of its own, goes on until the
# chip has had the whole timeout of its own time since, reading its clock every CHIP_POLL s of
# host time; never longer than CHIP_CAP times the host's limit (a chip that does not run).
CHIP_POLL = 0.05
CHIP_CAP = 5.0
SHOWN_WIDTH = 160  # characters of one console line in a report
# C0 controls (but tab) and DEL, shown escaped: line noise must not drive the reader's terminal
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x09), *range(0x0B, 0x20), 0x7F)}


def shown(lines: Sequence[str]) -> str:
    """Console lines as a report shows them: indented, control characters escaped, each cut to
    :data:`SHOWN_WIDTH` characters (a chip printing garbage cannot flood the report)."""
    out = []
    for line in lines:
        text = line.rstrip("\r").translate(_CONTROLS)
        if len(text) > SHOWN_WIDTH:
            text = f"{text[:SHOWN_WIDTH]}... ({len(text) - SHOWN_WIDTH} more characters)"
        out.append(f"  | {text}")
    return "\n".join(out) or "  | (nothing received)"


class ConsoleLog:
    """Per-console log file: one line per received or sent line, time since open in ms.

    Writing the log never raises: a failed write (a full disk) closes the file and is kept in
    :attr:`error` for whoever reports the test; the console itself reads on.
    """

    def __init__(self, path: Path | None, t0: float) -> None:
        self._t0 = t0
        self.path: Path | None = None
        self.error: str | None = None  # why the log stopped being written
        self._fh: TextIO | None = None
        self._partial = ""
        self._lock = threading.Lock()
        if path is not None:
            self.open(path)

    def open(self, path: Path) -> None:
        """(Re)open on ``path``; times restart from now (a reused chip gets a log per test)."""
        with self._lock:
            self._close_file()
            self._t0 = time.monotonic()
            self._partial = ""
            self.path = path
            self.error = None
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = open(path, "w", buffering=1, encoding="utf-8")  # noqa: SIM115
                self._fh.write(f"# {time.strftime('%Y-%m-%dT%H:%M:%S%z')} {path.stem}\n")
            except OSError as exc:
                self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        # caller holds the lock
        self.error = self.error or f"{self.path}: {exc.strerror or exc}"
        self._close_file()

    def _close_file(self) -> None:
        fh, self._fh = self._fh, None
        if fh is not None:
            with contextlib.suppress(OSError):
                fh.close()

    def _write(self, text: str) -> None:
        # caller holds the lock
        if self._fh:
            try:
                self._fh.write(text)
            except OSError as exc:
                self._fail(exc)

    def _line(self, t: float, direction: str, text: str) -> None:
        self._write(f"[{(t - self._t0) * 1e3:10.3f} ms] {direction} {text}\n")

    def received(self, t: float, text: str) -> None:
        with self._lock:
            data = self._partial + text
            *lines, self._partial = data.split("\n")
            for line in lines:
                self._line(t, "<", line.rstrip("\r"))

    def note(self, text: str) -> None:
        with self._lock:
            self._write(f"# {text}\n")

    def sent(self, t: float, text: str) -> None:
        with self._lock:
            self._line(t, ">", text.rstrip("\r\n"))

    def close(self) -> None:
        with self._lock:
            if self._fh and self._partial:
                self._line(time.monotonic(), "<", self._partial)
            self._partial = ""
            if self._fh:
                try:
                    self._fh.close()
                except OSError as exc:
                    self._fail(exc)
                self._fh = None


class Console:
    """Console over a connected stream socket (a QEMU chardev, a TCP serial server...).

    The buffer holds the text with CRLF turned into LF (the log file keeps lines as sent).
    """

    def __init__(self, sock: socket.socket, name: str, log_path: Path | None = None,
                 timeout_factor: float = 1.0, newline: str = "\n") -> None:
        self.name = name
        self.sock = sock
        self.timeout_factor = timeout_factor
        self.newline = newline
        self.echo = False  # the chip echoes what it receives
        self.encoding = "utf-8"
        self.prompt: re.Pattern[str] | None = None  # shells without OK/ERR answers
        self._decoder = codecs.getincrementaldecoder(self.encoding)("replace")
        self.t0 = time.monotonic()
        self.log = ConsoleLog(log_path, self.t0)
        self._buf: list[str] = []  # chunks; joined lazily
        self._text = ""
        self._times: list[tuple[int, float]] = []  # (offset, arrival time) per chunk
        self._len = 0
        self._cursor = 0
        self._cond = threading.Condition()
        self._closed: str | None = None
        self._cleared_at = 0.0
        # the chip's own time in ns, None while it is halted (set by a Dut with a clock)
        self.chip_now: Callable[[], int | None] | None = None
        self._thread = threading.Thread(target=self._reader, name=f"console-{name}",
                                        daemon=True)
        self._thread.start()

    def configure(self, *, newline: str | None = None, echo: bool | None = None,
                  encoding: str | None = None, prompt: str | None = None) -> None:
        """Line ending sent, echo stripping, text encoding and prompt (a target's console
        settings; see :class:`harness.config.ConsoleSpec`)."""
        if newline is not None:
            self.newline = newline
        if echo is not None:
            self.echo = echo
        if encoding is not None and encoding != self.encoding:
            with self._cond:
                self.encoding = encoding
                self._decoder = codecs.getincrementaldecoder(encoding)("replace")
        if prompt is not None:
            self.prompt = re.compile(prompt, re.MULTILINE)

    # -- reader thread -----------------------------------------------------------------------
    def _reader(self) -> None:
        reason = "connection closed by the chip side"
        held = ""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                now = time.monotonic()
                text = self._decoder.decode(chunk)  # a character may span two chunks
                self.log.received(now, text)
                # CRLF → LF so that ``$`` ends a line; a trailing CR waits for the next chunk.
                text = held + text
                held = "\r" if text.endswith("\r") else ""
                text = text[:-1] if held else text
                text = text.replace("\r\n", "\n")
                with self._cond:
                    if now < self._cleared_at:
                        continue  # read before a clear(): belongs to what was cleared
                    self._times.append((self._len, now))
                    self._buf.append(text)
                    self._len += len(text)
                    self._cond.notify_all()
        except OSError as exc:
            reason = f"read failed: {exc}"
        with self._cond:
            self._closed = self._closed or reason
            self._cond.notify_all()

    def _snapshot(self) -> str:
        # caller holds the condition
        if self._buf:
            self._text += "".join(self._buf)
            self._buf.clear()
        return self._text

    # -- reading -----------------------------------------------------------------------------
    @property
    def text(self) -> str:
        with self._cond:
            return self._snapshot()

    def mark(self) -> int:
        """An offset to look back from later with :meth:`read_since` or ``expect(since=)``."""
        with self._cond:
            return self._len

    def read_since(self, mark: int) -> str:
        with self._cond:
            return self._snapshot()[mark:]

    def time_of(self, offset: int) -> float:
        """Arrival time (monotonic) of the byte at ``offset``."""
        with self._cond:
            t = self.t0
            for off, when in self._times:
                if off > offset:
                    break
                t = when
            return t

    def last_lines(self, n: int = 20) -> list[str]:
        return [ln.rstrip("\r") for ln in self.text.splitlines()[-n:]]

    def clear(self) -> None:
        """Forget what was read so far: the buffer restarts empty, marks are invalidated and
        ``t0`` is now (a reused chip's console starts again at its power-on)."""
        with self._cond:
            self._snapshot()
            self._text = ""
            self._times.clear()
            self._len = 0
            self._cursor = 0
            self._cleared_at = self.t0 = time.monotonic()

    def replay(self, text: str) -> None:
        """Start the buffer again with ``text`` as if the chip had just printed it, consumed
        (a chip restored to a snapshot: what it printed up to that moment)."""
        now = time.monotonic()
        with self._cond:
            self._snapshot()
            self._text = ""
            self._times = [(0, now)]
            self._buf = [text]
            self._len = self._cursor = len(text)
            self._cleared_at = self.t0 = now
            self._cond.notify_all()
        self.log.note(f"restored from a snapshot: {len(text)} characters of output so far")

    def expect(self, pattern: Pattern | Sequence[Pattern], timeout: float = 2.0,
               since: int | None = None, partial: bool = False) -> Match:
        """Wait for the first of ``pattern`` (regex, ``re.MULTILINE``) after the cursor.

        Patterns are matched against complete lines only, so ``^OK (.*)$`` never captures half
        a line; ``partial=True`` also searches the unfinished last line (for prompts).

        ``since``: search from that mark instead (looks back; still moves the cursor forward).
        A HardFault report before the match raises :class:`DutFault`; a closed console raises
        :class:`DutLost`.
        """
        pats = [pattern] if isinstance(pattern, (str, re.Pattern)) else list(pattern)
        regs = [p if isinstance(p, re.Pattern) else re.compile(p, re.MULTILINE) for p in pats]
        limit = patience.limit(timeout, self.timeout_factor)
        deadline = time.monotonic() + limit
        grace = 0.0
        chip = _ChipTimeout(self.chip_now, timeout, limit)
        with self._cond:
            start = self._cursor if since is None else since
            while True:
                text = self._snapshot()
                upto = len(text) if partial else text.rfind("\n") + 1
                best = None
                for i, r in enumerate(regs):
                    m = r.search(text, start, max(upto, start))
                    if m and (best is None or m.start() < best[1].start()):
                        best = (i, m)
                fault = FAULT_RE.search(text, start, max(upto, start))
                if best and (fault is None or best[1].start() < fault.end()):
                    i, m = best
                    self._cursor = max(self._cursor, m.end())
                    return Match(i, m, m.start(), m.end())
                if fault:
                    # give the rest of the report (``*** HALTED``) a moment to arrive
                    if "*** HALTED" not in text[fault.start():] and not self._closed:
                        grace = grace or time.monotonic() + patience.limit(0.2, self.timeout_factor)
                        if time.monotonic() < grace:
                            self._cond.wait(0.01)
                            continue
                    report = text[fault.start():].strip()
                    raise DutFault(f"{self.name}: firmware fault while waiting for "
                                   f"{self._describe(pats)}:\n{report}")
                if self._closed:
                    raise DutLost(f"{self.name}: console lost ({self._closed}) while waiting "
                                  f"for {self._describe(pats)}; last lines:\n"
                                  + self._tail(text))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if chip.more():
                        deadline = time.monotonic() + CHIP_POLL
                        continue
                    raise ConsoleTimeout(
                        f"{self.name}: no {self._describe(pats)} within {limit:.2f} s"
                        f"{chip.said()}; last lines:\n" + self._tail(text))
                self._cond.wait(remaining)

    def expect_exact(self, literal: str | Sequence[str], timeout: float = 2.0,
                     since: int | None = None) -> Match:
        lits = [literal] if isinstance(literal, str) else list(literal)
        return self.expect([re.compile(re.escape(s)) for s in lits], timeout, since,
                           partial=True)

    @staticmethod
    def _describe(pats: list[Pattern]) -> str:
        shown = [p.pattern if isinstance(p, re.Pattern) else p for p in pats]
        return " or ".join(repr(s) for s in shown)

    @staticmethod
    def _tail(text: str, n: int = 20) -> str:
        return shown(text[-n * 4 * SHOWN_WIDTH:].splitlines()[-n:])

    # -- writing -----------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self._closed:
            raise DutLost(f"{self.name}: console lost ({self._closed}); cannot send {data!r}")
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise DutLost(f"{self.name}: send failed ({exc})") from None
        self.log.sent(time.monotonic(), data.decode("utf-8", "replace"))

    def sendline(self, line: str) -> None:
        self.write((line + self.newline).encode(self.encoding))

    def command(self, cmd: str, timeout: float = 2.0) -> str:
        """Send one shell command and return its answer.

        A shell with a ``prompt``: what the chip printed between the command (its echo
        stripped) and the next prompt. Otherwise the payload of ``OK``; ``ERR <code>`` raises
        :class:`CommandError`.
        """
        with self._cond:
            mark = self._cursor  # answers are looked for past what was consumed so far
        self.sendline(cmd)
        start = mark
        if self.echo:
            # the echo is the sent line as typed: up to where the chip ends it
            # (after the prompt the chip printed when it was ready, on the same line)
            echo = self.expect(re.compile(re.escape(cmd) + r"[ \t]*$", re.MULTILINE),
                               timeout, since=mark)
            start = echo.end + 1  # past the line's end
        if self.prompt is not None:
            m = self.expect(self.prompt, timeout, since=start, partial=True)
            return self.read_since(start)[:m.start - start].rstrip("\n")
        m = self.expect(ANSWER_RE, timeout, since=start)
        payload = m.group(2) or ""
        if m.group(1) == "ERR":
            code, _, text = payload.partition(" ")
            raise CommandError(cmd, int(code) if code.isdigit() else -1, text)
        return payload

    # -- lifetime ----------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed is not None

    def close(self) -> None:
        with self._cond:
            self._closed = self._closed or "closed by the harness"
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()
        self._thread.join(timeout=2)
        self.log.close()


class _ChipTimeout:
    """A console wait's timeout in the chip's own time, where it has a clock: once the host's
    limit is out, the chip is given ``timeout`` more seconds of its own time (a loaded host
    slows a chip on chip time; a deadline must not pass on time the chip never had), for at
    most ``CHIP_CAP`` times the host's limit. Without a clock, or with the chip halted, the
    host's limit is the timeout. The clock is read only once the host's limit ran out."""

    def __init__(self, now: Callable[[], int | None] | None, timeout: float,
                 limit: float) -> None:
        self.now = now
        self.timeout_ns = int(timeout * 1e9)
        self.limit = limit
        self.start: int | None = None
        self.given = 0  # chip ns given since the host's limit ran out
        self.cap = 0.0

    def more(self) -> bool:
        """Whether to wait on: the chip runs and has not had its timeout since."""
        if self.now is None:
            return False
        chip = self.now()
        if chip is None:  # halted: its clock stands still
            return False
        if self.start is None:
            self.start, self.cap = chip, time.monotonic() + self.limit * (CHIP_CAP - 1)
        self.given = chip - self.start
        return self.given < self.timeout_ns and time.monotonic() < self.cap

    def said(self) -> str:
        if self.start is None:
            return ""
        return f" and {self.given / 1e6:.0f} ms of the chip's own time after that"

