"""Coverage records read from an ELF, and .gcda files written from counters.

A small program is compiled and linked here with the firmware's own coverage flags and
linker fragment (firmware/common/coverage/gcov.ld), so the records are GCC 12's real ones.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from harness.coverage import gcda
from harness.coverage.gcov_info import (
    Function,
    NotInstrumented,
    Unit,
    gcov_version,
    read_instrumentation,
)
from harness.errors import FirmwareError

ROOT = Path(__file__).resolve().parents[2]
COVERAGE = ["-fprofile-arcs", "-ftest-coverage", "-fprofile-info-section",
            "-fprofile-update=single", "-fprofile-abs-path"]
CPU = ["-mcpu=cortex-m3", "-mthumb", "-Os", "-ffunction-sections", "-fdata-sections"]
LDSCRIPT = """
MEMORY { FLASH (rx) : ORIGIN = 0, LENGTH = 64K
         RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 16K }
ENTRY(main)
SECTIONS {
  .text : { *(.text .text.* .rodata .rodata.*) } > FLASH
  .data : { *(.data .data.*) } > RAM AT > FLASH
  .bss (NOLOAD) : { *(.bss .bss.* COMMON) } > RAM
}
"""
PROGRAM = """
int counter;
__attribute__((noinline)) int never(int x) { if (x) counter++; return counter; }
__attribute__((noinline)) int ten(int x)
{
    if (x & 1)
        counter += 3;
    else
        counter += 1;
    return counter;
}
int main(void)
{
    for (int i = 0; i < 10; i++)
        ten(i);
    return counter > 100 ? never(counter) : 0;
}
"""
SECOND = "int twice(int x) { return x > 3 ? 2 * x : x; }\n"


def _gcc(*args: str, cwd: Path) -> None:
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.fail("arm-none-eabi-gcc missing: apt-get install gcc-arm-none-eabi")
    subprocess.run(["arm-none-eabi-gcc", *CPU, *args], cwd=cwd, check=True,
                   capture_output=True)


def _link(tmp: Path, instrumented: bool = True) -> Path:
    (tmp / "prog.c").write_text(PROGRAM)
    (tmp / "second.c").write_text(SECOND)
    (tmp / "mini.ld").write_text(LDSCRIPT)
    flags = COVERAGE if instrumented else []
    _gcc(*flags, "-c", "prog.c", "-o", "prog.o", cwd=tmp)
    _gcc(*flags, "-c", "second.c", "-o", "second.o", cwd=tmp)
    _gcc("-c", str(ROOT / "firmware/common/coverage/gcov_rt.c"), "-o", "rt.o", cwd=tmp)
    extra = ["-T", str(ROOT / "firmware/common/coverage/gcov.ld")] if instrumented else []
    _gcc("-nostdlib", "-nostartfiles", "-Wl,--gc-sections", "-T", "mini.ld", *extra,
         "prog.o", "second.o", "rt.o", "-o", "prog.elf", cwd=tmp)
    return tmp / "prog.elf"


@pytest.fixture(scope="module")
def elf(tmp_path_factory) -> Path:
    return _link(tmp_path_factory.mktemp("cov"))


def _symbols(path: Path) -> dict[str, tuple[int, int]]:
    with path.open("rb") as f:
        table = ELFFile(f).get_section_by_name(".symtab")
        return {s.name: (s["st_value"], s["st_size"]) for s in table.iter_symbols()}


def test_version_words():
    assert gcov_version(0x4232322A) == (12, 2)  # 'B22*'
    assert gcov_version(0x4139332A) == (9, 3)  # 'A93*'
    assert gcov_version(0x4234312A) == (14, 1)


def test_every_unit_function_and_counter_array_is_found(elf, tmp_path):
    inst = read_instrumentation(elf)
    assert [Path(u.gcda).name for u in inst.units] == ["prog.gcda", "second.gcda"]
    prog, second = inst.units
    assert Path(prog.gcda).parent == elf.parent  # next to the object and its .gcno
    assert prog.gcno.exists() and second.gcno.exists()
    assert gcov_version(prog.version) == (12, 2)
    assert len(prog.functions) == 3 and len(second.functions) == 1
    symbols = _symbols(elf)
    # every function's counters are one __gcov0.<name> array, 8 bytes a counter
    arrays = {(a, 8 * n) for a, n, _ in inst.arrays}
    expected = {v for k, v in symbols.items() if k.startswith("__gcov0.")}
    assert arrays == expected
    assert second.first == prog.count and inst.size == prog.count + second.count
    # the vector holds the arrays back to back, in unit and function order
    index = 0
    for _address, n, i in inst.arrays:
        assert i == index
        index += n
    assert index == inst.size


def test_linker_fragment_keeps_the_section_and_bounds_it(elf):
    symbols = _symbols(elf)
    start, end = symbols["__gcov_info_start"][0], symbols["__gcov_info_end"][0]
    assert end - start == 8  # one pointer per unit


def test_an_image_without_records_says_how_to_get_them(tmp_path):
    plain = _link(tmp_path, instrumented=False)
    with pytest.raises(NotInstrumented, match=r"no coverage instrumentation.*-fprofile-arcs"):
        read_instrumentation(plain)


def test_another_gcov_layout_is_refused(elf, tmp_path):
    raw = bytearray(elf.read_bytes())
    version = struct.pack("<I", 0x4232322A)
    assert raw.count(version) == 2  # the two units' records
    other = tmp_path / "other.elf"
    other.write_bytes(bytes(raw).replace(version, struct.pack("<I", 0x4234312A)))  # 'B41*'
    with pytest.raises(FirmwareError, match=r"gcov 14\.1: only the layout of GCC 12"):
        read_instrumentation(other)


def _unit(*functions: Function) -> Unit:
    return Unit("/x/a.gcda", 0x4232322A, 0x11223344, 0x55667788, functions, 0)


def test_gcda_words_are_those_libgcov_writes():
    unit = _unit(Function(7, 8, 9, 0x20000000, 2, True),
                 Function(10, 11, 12, 0x20000010, 3, True),
                 Function(0, 0, 0, 0, 0, False))
    data = gcda.encode(unit, [1, 1 << 32 | 5, 0, 0, 0])
    words = struct.unpack(f"<{len(data) // 4}I", data)
    assert words == (
        0x67636461, 0x4232322A, 0x11223344, 0x55667788,  # magic 'gcda', version, stamp, sum
        0xA1000000, 8, 1, 5,  # object summary: runs, sum_max (its low word)
        0x01000000, 12, 7, 8, 9, 0x01A10000, 16, 1, 0, 5, 1,  # counts as (low, high)
        0x01000000, 12, 10, 11, 12, 0x01A10000, (-24) & 0xFFFFFFFF,  # all zero: no values
        0x01000000, 0,  # a discarded copy
        0)
    back = gcda.decode(data)
    assert back.counts == [1, 1 << 32 | 5, 0, 0, 0]
    assert [f.ident for f in back.functions] == [7, 10, None]
    assert (back.runs, back.stamp, back.checksum) == (1, 0x11223344, 0x55667788)


def test_gcda_needs_one_count_per_counter():
    with pytest.raises(ValueError, match="2 counts for 3 counters"):
        gcda.encode(_unit(Function(1, 2, 3, 0x20000000, 3, True)), [0, 0])


def test_decode_refuses_what_is_not_gcda():
    with pytest.raises(FirmwareError, match="not a .gcda"):
        gcda.decode(b"oncg" + bytes(12))
