"""Serial numbers: read them (arguments, a file, or stdin as a barcode scanner types them) and
validate them against the product's pattern. A serial number is data: it is matched in full,
stored verbatim, and never put unsanitized into a path or a shell command.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_LEN = 128


@dataclass(frozen=True)
class Refused:
    raw: str
    reason: str


def decode_line(raw: bytes) -> str:
    """Bytes of one scanned line → text; bytes that are not UTF-8 survive as surrogates, which
    :func:`check` then refuses."""
    return raw.decode("utf-8", "surrogateescape").strip("\r\n").strip()


def read_lines(stream) -> Iterator[str]:
    """Serial numbers one per line from a binary stream (stdin of a scanner); blank lines skip."""
    for raw in stream:
        line = decode_line(raw)
        if line:
            yield line


def read_file(path: Path) -> list[str]:
    with open(path, "rb") as fh:
        return list(read_lines(fh))


def check(serial: str, pattern: str) -> str | None:
    """None when ``serial`` is acceptable, else the reason it is refused."""
    try:
        serial.encode("utf-8")
    except UnicodeEncodeError:
        return "not valid UTF-8"
    if len(serial) > MAX_LEN:
        return f"longer than {MAX_LEN} characters ({len(serial)})"
    if not re.fullmatch(pattern, serial):
        return f"does not match the product's pattern {pattern!r}"
    return None


def split(serials: Iterable[str], pattern: str) -> tuple[list[str], list[Refused]]:
    """Accepted serials (duplicates dropped, order kept) and refused ones with reasons."""
    ok: list[str] = []
    bad: list[Refused] = []
    for s in serials:
        reason = check(s, pattern)
        if reason:
            bad.append(Refused(s, reason))
        elif s in ok:
            bad.append(Refused(s, "listed twice"))
        else:
            ok.append(s)
    return ok, bad


def shown(serial: str, width: int = 40) -> str:
    """A serial number safe to print on a terminal (escapes, control characters, truncated)."""
    text = ascii(serial)[1:-1]
    return text if len(text) <= width else text[:width - 3] + "..."


def dir_name(serial: str) -> str:
    """A directory name for ``serial``: only [A-Za-z0-9_-], plus a hash so distinct serial
    numbers never share a directory. Never '.', '..', never a path separator."""
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", serial)[:40].strip("_") or "unit"
    digest = hashlib.sha256(serial.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    return f"{safe}-{digest}"
