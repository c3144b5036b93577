"""One coverage run: which image each chip runs, whose counters to read, and when.

Registered by the plugin only when coverage is on, so a run without it pays nothing. It
substitutes the coverage variant for each firmware build (:mod:`.variant`); reads a chip's
counters when a test is done with it — at ``pytest_harness_dut_done`` for the ``dut``
fixture, after each test of the same collector for a chip that lives across tests (the C
unit tests' runner) — and zeroes them when the chip lives on (a function-scoped chip's are
cleared by its pool's reset, or it is gone); it appends one record per test. The process that
is not an xdist worker turns the records into reports when the session ends and prints a
line per chip.
"""

from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..errors import HarnessError
from . import store
from .counters import CounterReader
from .gcov_info import NotInstrumented, read_instrumentation
from .variant import coverage_variant

if TYPE_CHECKING:
    from ..dut import Dut
    from .reports import ChipReport

COVERAGE_DIR = "coverage"


@dataclass
class _Chip:
    dut: Dut
    reader: CounterReader
    scope: Any  # None: the dut fixture's chip; else the collector whose tests share it


class CoverageRun:
    def __init__(self, config: pytest.Config) -> None:
        from ..plugin import settings

        run = settings(config)
        self.config = config
        self.root = run.root
        self.dir = run.results / COVERAGE_DIR
        self.worker = hasattr(config, "workerinput")
        # a function-scoped chip is closed or goes back to its pool after the test, whose
        # reset clears its RAM: only chips that live on need their counters zeroed
        self.zero_fixture_chips = run.dut_scope != "function"
        self.gcov = config.getini("firmware_coverage_gcov")
        self.exclude = tuple(config.getini("firmware_coverage_exclude"))
        self.log = store.RecordLog(self.dir, run.worker)
        self.readers: dict[str, CounterReader | str] = {}  # image sha256 → reader or why not
        self.chips: dict[int, _Chip] = {}
        self.reports: list[ChipReport] = []
        if not self.worker:
            store.clear(self.dir)

    # -- which firmware --------------------------------------------------------------------------
    def pytest_harness_firmware_variant(self, build: list[str] | None,
                                        image: Path) -> tuple[list[str], Path] | None:
        return coverage_variant(build, image)

    # -- reading the chips -------------------------------------------------------------------
    def _reader(self, dut: Dut) -> CounterReader | str:
        image = dut.image
        reader = self.readers.get(image.sha256)
        if reader is None:
            if not dut.has("memory"):
                reader = f"the {dut.world} world cannot read the chip's memory"
            elif image.format != "elf":
                reader = (f"{image.path.name} is a {image.format.upper()} image: coverage "
                          f"records are read from an ELF")
            else:
                try:
                    reader = CounterReader(read_instrumentation(image.path))
                except NotInstrumented as exc:
                    reader = str(exc)
                except HarnessError as exc:
                    reader = f"{image.path.name}: {exc}"
            if isinstance(reader, str):
                warnings.warn(pytest.PytestWarning(
                    f"firmware coverage: {dut.target.name}: {reader}; its tests run without "
                    f"coverage"), stacklevel=1)
            self.readers[image.sha256] = reader
        return reader

    def pytest_harness_dut_ready(self, dut: Dut, item: pytest.Item) -> None:
        for key in [k for k, c in self.chips.items() if not c.dut.alive]:
            del self.chips[key]  # lost before anyone read them
        reader = self._reader(dut)
        if isinstance(reader, str):
            self.log.append(store.Record(item.nodeid, dut.target.name, str(dut.image.path),
                                         dut.image.sha256, missing=reader))
            return
        from_fixture = "dut" in getattr(item, "fixturenames", ())
        if from_fixture and item.get_closest_marker("no_boot") is not None:
            # not booted yet: whatever RAM holds is no count (the boot zeroes .bss anyway)
            reader.zero(dut.memory, dut.execution if dut.has("execution") else None)
        self.chips[id(dut)] = _Chip(dut, reader, None if from_fixture else item.parent)

    def pytest_harness_dut_done(self, dut: Dut, item: pytest.Item) -> None:
        chip = self.chips.get(id(dut))
        if chip is not None and chip.scope is None:
            del self.chips[id(dut)]
            self._collect(chip, item)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        try:
            return (yield)
        finally:
            for key, chip in list(self.chips.items()):
                if chip.scope is None or chip.scope is not item.parent:
                    continue
                if chip.dut.alive:
                    self._collect(chip, item)
                else:
                    del self.chips[key]

    def _collect(self, chip: _Chip, item: pytest.Item) -> None:
        dut = chip.dut
        record = store.Record(item.nodeid, dut.target.name, str(dut.image.path),
                              dut.image.sha256)
        zero = chip.scope is not None or self.zero_fixture_chips
        try:
            reading = chip.reader.read(dut.memory,
                                       dut.execution if dut.has("execution") else None, zero)
        except (HarnessError, OSError) as exc:
            record.missing = f"reading the counters of {dut.name} failed: {exc}"
            warnings.warn(pytest.PytestWarning(f"firmware coverage: {record.missing}"),
                          stacklevel=1)
        else:
            record.counts = store.sparse(reading.counts)
            record.seconds = reading.seconds
        self.log.append(record)

    # -- reports -----------------------------------------------------------------------------
    def pytest_report_header(self) -> str:
        gcov = "" if shutil.which(self.gcov) else f"; {self.gcov} not found: no reports"
        return (f"firmware coverage: on (COVERAGE=1 builds, counters read after each test, "
                f"reports in {self.dir}){gcov}")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.worker:
            return
        from .reports import build_reports

        if not shutil.which(self.gcov):
            return
        self.reports = build_reports(self.dir, self.root, self.gcov, self.exclude)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.worker:
            return
        tr = terminalreporter
        tr.section("firmware coverage")
        if not shutil.which(self.gcov):
            tr.write_line(f"{self.gcov} not found on PATH: counters were read, no reports "
                          f"written (apt-get install gcc-arm-none-eabi)", red=True)
            return
        if not self.reports:
            tr.write_line("no test used an instrumented chip")
        for report in self.reports:
            tr.write_line(report.describe(), red=bool(report.error))
