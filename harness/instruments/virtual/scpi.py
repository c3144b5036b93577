"""The instrument side of SCPI: header matching (long/short forms, optional nodes, numeric
suffixes), parameter parsing, and an error queue with the standard codes."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

# SCPI-99 standard error codes used here
ERRORS = {
    -100: "Command error",
    -102: "Syntax error",
    -108: "Parameter not allowed",
    -109: "Missing parameter",
    -113: "Undefined header",
    -221: "Settings conflict",
    -222: "Data out of range",
    -224: "Illegal parameter value",
    -350: "Queue overflow",
}
QUEUE_SIZE = 20


class ScpiFault(Exception):
    def __init__(self, code: int, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        super().__init__(code, detail)

    @property
    def text(self) -> str:
        base = ERRORS.get(self.code, "Error")
        return f"{base}; {self.detail}" if self.detail else base


class ErrorQueue:
    """FIFO of (code, text); a full queue replaces its newest entry with -350.

    ``listener`` hears the code of every error pushed (the status model sets ``*ESR`` bits)."""

    def __init__(self) -> None:
        self._q: deque[tuple[int, str]] = deque()
        self.listener: Callable[[int], None] = lambda code: None

    def push(self, code: int, text: str) -> None:
        self.listener(code)
        if len(self._q) >= QUEUE_SIZE:
            self._q[-1] = (-350, ERRORS[-350])
            self.listener(-350)
            return
        self._q.append((code, text))

    def pop(self) -> tuple[int, str]:
        return self._q.popleft() if self._q else (0, "No error")

    def clear(self) -> None:
        self._q.clear()

    def __len__(self) -> int:
        return len(self._q)


def header_regex(pattern: str) -> re.Pattern[str]:
    """``[SOURce#:]VOLTage[:LEVel]?`` → a regex matching every legal spelling of it.

    Upper-case letters of a keyword are its short form; ``#`` is an optional numeric suffix
    (captured); ``[...]`` is optional.
    """
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "[":
            out.append("(?:")
        elif c == "]":
            out.append(")?")
        elif c == "#":
            out.append(r"(\d*)")
        elif c.isalpha():
            j = i
            while j < len(pattern) and pattern[j].isalpha():
                j += 1
            word = pattern[i:j]
            upper = re.match(r"[A-Z0-9]*", word)
            assert upper is not None  # a pattern that matches the empty string always matches
            short = upper.group(0)
            long_ = word.upper()
            out.append(f"(?:{long_}|{short})" if short != long_ else long_)
            i = j
            continue
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.I)


@dataclass
class Call:
    """One program message unit as a handler sees it."""

    header: str
    params: list[str]
    suffixes: list[int]
    query: bool

    def param(self, i: int, default: str | None = None) -> str:
        if i < len(self.params):
            return self.params[i]
        if default is None:
            raise ScpiFault(-109, f"{self.header} needs parameter {i + 1}")
        return default

    def suffix(self, i: int = 0, default: int = 1) -> int:
        return self.suffixes[i] if i < len(self.suffixes) else default

    def number(self, i: int, *, lo: float | None = None, hi: float | None = None,
               keywords: dict[str, float] | None = None) -> float:
        text = self.param(i)
        if keywords and text.upper() in keywords:
            return keywords[text.upper()]
        for kw, val in (keywords or {}).items():  # short forms (MIN, MAX, DEF)
            if kw.upper().startswith(text.upper()) and len(text) >= 3:
                return val
        try:
            value = float(text)
        except ValueError:
            raise ScpiFault(-224, f"{text!r} is not a number") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ScpiFault(-222, f"{value:g} outside {lo:g}..{hi:g}")
        return value

    def boolean(self, i: int) -> bool:
        text = self.param(i).upper()
        if text in ("1", "ON"):
            return True
        if text in ("0", "OFF"):
            return False
        raise ScpiFault(-224, f"{text!r} is not ON/OFF/1/0")

    def no_more(self, n: int) -> None:
        if len(self.params) > n:
            raise ScpiFault(-108, f"{self.header} takes {n} parameter(s)")


def channel_list(text: str) -> list[int]:
    """``(@1)``, ``(@1,3)``, ``(@1:3)`` → [1], [1, 3], [1, 2, 3]."""
    m = re.fullmatch(r"\(@([\d,:\s]+)\)", text.strip())
    if not m:
        raise ScpiFault(-224, f"{text!r} is not a channel list")
    out: list[int] = []
    for part in m.group(1).split(","):
        a, _, b = part.strip().partition(":")
        out += list(range(int(a), int(b or a) + 1))
    return out


def split_params(text: str) -> list[str]:
    """Comma-separated parameters; commas inside ``(@...)`` or quotes do not split."""
    out, cur, depth, quote = [], [], 0, ""
    for c in text:
        if quote:
            cur.append(c)
            if c == quote:
                quote = ""
            continue
        if c in "\"'":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(c)
    last = "".join(cur).strip()
    if last or out:
        out.append(last)
    return out


def split_units(line: str) -> list[str]:
    """A program message → its units (split on ``;`` outside quotes)."""
    out: list[str] = []
    cur: list[str] = []
    quote = ""
    for c in line:
        if quote:
            quote = "" if c == quote else quote
        elif c in "\"'":
            quote = c
        elif c == ";":
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(c)
    out.append("".join(cur).strip())
    return [u for u in out if u]


Handler = Callable[[Call], "str | None"]


@dataclass
class CommandSet:
    """Headers → handlers. A query pattern ends with ``?``."""

    _entries: list[tuple[re.Pattern[str], bool, Handler]] = field(default_factory=list)

    def add(self, pattern: str, handler: Handler) -> None:
        query = pattern.endswith("?")
        self._entries.append((header_regex(pattern.rstrip("?").lstrip(":")), query, handler))

    def execute(self, unit: str) -> str | None:
        header, _, rest = unit.partition(" ")
        header = header.strip().lstrip(":")
        query = header.endswith("?")
        bare = header.rstrip("?")
        for regex, is_query, handler in self._entries:
            if is_query != query:
                continue
            m = regex.fullmatch(bare)
            if m:
                suffixes = [int(g) for g in m.groups() if g]
                return handler(Call(header, split_params(rest), suffixes, query))
        raise ScpiFault(-113, header)
