"""The coverage package's parts on their own: reading counters through a fake memory, the
build variant, records on disk, the line map and its page."""

from __future__ import annotations

import contextlib
import json
import struct
from pathlib import Path

import pytest

from harness.coverage import store
from harness.coverage.by_line import LineMap
from harness.coverage.counters import CounterReader, spans
from harness.coverage.gcov_info import Function, Instrumentation, Unit
from harness.coverage.variant import coverage_variant
from harness.coverage.view import render
from harness.protocols import Memory

BASE = 0x20000100


def _inst(*arrays: tuple[int, int]) -> Instrumentation:
    """One unit whose functions have counter arrays at (address, count)."""
    fns = tuple(Function(i, 0, 0, a, n, True) for i, (a, n) in enumerate(arrays))
    return Instrumentation((Unit("/b/u.gcda", 0x4232322A, 1, 2, fns, 0),))


class FakeMemory(Memory):
    def __init__(self, size: int = 0x1000) -> None:
        self.ram = bytearray(size)
        self.reads: list[tuple[int, int]] = []
        self.writes: list[tuple[int, int]] = []

    def read(self, address: int, length: int) -> bytes:
        self.reads.append((address, length))
        return bytes(self.ram[address - BASE:address - BASE + length])

    def write(self, address: int, data: bytes) -> None:
        self.writes.append((address, len(data)))
        self.ram[address - BASE:address - BASE + len(data)] = data

    def put(self, address: int, *values: int) -> None:
        struct.pack_into(f"<{len(values)}Q", self.ram, address - BASE, *values)


class FakeExecution:
    def __init__(self) -> None:
        self.pauses = 0

    @contextlib.contextmanager
    def paused(self):
        self.pauses += 1
        yield


def test_near_arrays_share_a_span_far_ones_do_not():
    inst = _inst((BASE, 2), (BASE + 0x20, 1), (BASE + 0x400, 3))
    got = spans(inst, gap=64)
    assert [(s.address, s.length) for s in got] == [(BASE, 0x28), (BASE + 0x400, 24)]
    assert got[0].arrays == ((0, 2, 0), (0x20, 1, 2))
    assert got[1].arrays == ((0, 3, 3),)


def test_read_takes_every_counter_and_zeroes_only_counters():
    inst = _inst((BASE, 2), (BASE + 0x20, 1), (BASE + 0x400, 3))
    mem, ex = FakeMemory(), FakeExecution()
    mem.put(BASE, 5, 1 << 40)
    mem.put(BASE + 0x10, 0xDEADBEEF)  # a program variable between two arrays
    mem.put(BASE + 0x20, 7)
    reader = CounterReader(inst, gap=64)
    reading = reader.read(mem, ex)  # type: ignore[arg-type]
    assert reading.counts == [5, 1 << 40, 7, 0, 0, 0]
    assert ex.pauses == 1  # one consistent snapshot, core held for all of it
    assert mem.writes == [(BASE, 0x28)]  # the span with counts; the all-zero one left alone
    assert struct.unpack_from("<Q", mem.ram, 0x10)[0] == 0xDEADBEEF
    assert reader.read(mem).counts == [0] * 6  # zeroed
    mem.put(BASE + 0x400, 1, 2, 3)
    assert reader.read(mem, zero=False).counts == [0, 0, 0, 1, 2, 3]
    assert reader.read(mem).counts == [0, 0, 0, 1, 2, 3]


@pytest.mark.parametrize("build, image, want", [
    (["make", "-C", "firmware", "washer"], "/p/firmware/build/washer/washer.elf",
     (["make", "-C", "firmware", "washer", "COVERAGE=1"],
      "/p/firmware/build-cov/washer/washer.elf")),
    (["/usr/bin/make", "x", "COVERAGE=1"], "/build/p/firmware/build/t/t.elf",
     (["/usr/bin/make", "x", "COVERAGE=1"], "/build/p/firmware/build-cov/t/t.elf")),
    (["./build.sh"], "/p/build/app.elf", None),  # not make: tested as it is
    (["make", "app"], "/p/out/app.elf", None),  # no build directory to mirror
    (None, "/p/build/app.elf", None),  # prebuilt
])
def test_coverage_variant(build, image, want):
    got = coverage_variant(build, Path(image))
    assert got == (None if want is None else (want[0], Path(want[1])))


def test_records_round_trip_through_the_log(tmp_path):
    log_a = store.RecordLog(tmp_path, "gw0")
    log_b = store.RecordLog(tmp_path, "gw1")
    a = store.Record("t.py::a", "chip", "/x.elf", "ab", store.sparse([0, 3, 0, 1 << 40]), 0.002)
    b = store.Record("t.py::b", "chip", "/y.elf", "cd", missing="no records")
    log_a.append(a)
    log_b.append(b)
    got = list(store.read_all(tmp_path))
    assert got == [a, b]
    assert got[0].dense(4) == [0, 3, 0, 1 << 40]
    store.clear(tmp_path)
    assert list(store.read_all(tmp_path)) == []


def test_line_map_answers_both_ways_and_survives_json():
    lines = LineMap(["t::a", "t::b"], {"fw/main.c": {10: [0, 1], 12: [1]}})
    assert lines.covered_by("fw/main.c", 12) == ["t::b"]
    assert lines.covered_by("fw/main.c", 99) == []
    assert lines.lines_of("t::a") == {("fw/main.c", 10)}
    again = LineMap.from_json(json.loads(json.dumps(lines.to_json())))
    assert again == lines


def test_the_page_names_the_tests_behind_each_line(tmp_path):
    (tmp_path / "fw").mkdir()
    (tmp_path / "fw" / "main.c").write_text("int a;\nif (x < y) go();\nboot();\n")
    lines = LineMap(["t::a<1>", "t::b"], {"fw/main.c": {2: [0], 3: [0, 1]}})
    page = render(lines, tmp_path, "chip")
    assert "if (x &lt; y) go();" in page  # source shown, escaped
    assert "t::a&lt;1&gt;" in page and "<1>" not in page
    assert "every test (2)" in page  # line 3
    assert "fw/main.c:2" in page  # the line only t::a ran
