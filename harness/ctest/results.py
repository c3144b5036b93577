"""Result lines of a qtest image (firmware/README.md, "Console protocol of a test image")."""

from __future__ import annotations

import re
from dataclasses import dataclass

RESULT = re.compile(r"^QTEST (?P<kind>PASS|FAIL|SKIP) (?P<id>\S+)"
                    r"(?: (?P<file>[^:\s]+):(?P<line>\d+): (?P<message>.*))?$")
FAULT = re.compile(r"^\*\*\* (HARDFAULT|UNEXPECTED) .*$")


@dataclass(frozen=True)
class CResult:
    id: str
    outcome: str  # "passed" | "failed" | "skipped" | "crashed"
    file: str | None = None
    line: int | None = None
    message: str = ""

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.file else ""


class ProtocolError(Exception):
    """The image printed something that is not the qtest protocol."""


def parse_run(case_id: str, text: str) -> CResult | None:
    """The result of ``case_id`` in the console text of one ``run``; None when not there yet.

    A fault report after the test's ``QTEST CASE`` line, before its result, is a crash.
    """
    started = False
    for line in text.splitlines():
        line = line.rstrip("\r")
        if line == f"QTEST CASE {case_id}":
            started = True
            continue
        if not started:
            continue
        if FAULT.match(line):
            return CResult(case_id, "crashed", message=line)
        m = RESULT.match(line)
        if m is None:
            continue
        if m["id"] != case_id:
            raise ProtocolError(f"result for {m['id']!r} while {case_id!r} was running: {line!r}")
        kind = {"PASS": "passed", "FAIL": "failed", "SKIP": "skipped"}[m["kind"]]
        if kind != "passed" and m["file"] is None:
            raise ProtocolError(f"{kind} without file:line: {line!r}")
        return CResult(case_id, kind, m["file"], int(m["line"]) if m["line"] else None,
                       m["message"] or "")
    return None
