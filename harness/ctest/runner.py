"""Runs C tests one at a time on a chip booted with the unit-test image.

One chip per image and worker, booted on first use and kept for the next tests (a C test's
fixture sets up what it needs). A test that crashes the chip, hangs or leaves it dead fails,
and the chip is reset — or, if that does not bring it back, replaced — before the next test.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import ConsoleTimeout, DutFault, DutLost, HarnessError
from .image import CCase
from .results import CResult, ProtocolError, parse_run

if TYPE_CHECKING:
    from ..dut import Dut

RUN_DONE = r"^(OK total=\d+ passed=\d+ failed=\d+ skipped=\d+|ERR \d+ .*)$"


class CtestRunner:
    def __init__(self, open_dut: Callable[[], Dut], timeout: float,
                 on_close: Callable[[], None] | None = None) -> None:
        self._open_dut = open_dut
        self._on_close = on_close
        self.timeout = timeout
        self.dut: Dut | None = None
        self.boots = 0

    def _chip(self) -> Dut:
        if self.dut is not None and not self.dut.alive:
            self.close()
        if self.dut is None:
            self.dut = self._open_dut()
            self.boots += 1
        return self.dut

    def run(self, case: CCase) -> CResult:
        dut = self._chip()
        con = dut.console
        mark = con.mark()
        dut.step = f"C test {case.id}"
        con.sendline(f"run {case.id}")
        try:
            answer = con.expect(RUN_DONE, timeout=self.timeout, since=mark)
        except DutFault:
            result = parse_run(case.id, con.read_since(mark))
            self._recover()
            if result is None or result.outcome != "crashed":
                raise
            return result
        except ConsoleTimeout as exc:
            self._recover()
            return CResult(case.id, "crashed",
                           message=f"no result within {self.timeout:.1f} s (hung?): {exc}")
        if answer.group(0).startswith("ERR"):
            raise HarnessError(f"{dut.name}: the image does not know {case.id!r} "
                               f"({answer.group(0)}); rebuild it or re-run collection")
        try:
            result = parse_run(case.id, con.read_since(mark))
        except ProtocolError as exc:
            raise HarnessError(f"{dut.name}: {exc}") from None
        if result is None:
            raise HarnessError(f"{dut.name}: 'run {case.id}' answered {answer.group(0)!r} "
                               f"without a result line for it")
        return result

    def _recover(self) -> None:
        """Back to a chip that listens: reset it, or start a new one next time."""
        dut = self.dut
        if dut is None:
            return
        try:
            if dut.execution is None:
                raise DutLost("no run control to reset with")
            dut.reset()
        except Exception:
            self.close()

    def close(self) -> None:
        dut, self.dut = self.dut, None
        if dut is not None:
            with contextlib.suppress(Exception):
                dut.close()
            if self._on_close is not None:
                self._on_close()
