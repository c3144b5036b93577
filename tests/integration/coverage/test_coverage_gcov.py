"""The .gcda files the harness writes are what GCC's own tools expect.

1. Byte for byte what libgcov writes: a host program built with the host's gcc --coverage
   runs and writes its .gcda; decoding it and encoding it again gives the same bytes.
2. arm-none-eabi-gcov reads the harness's .gcda with the coverage build's .gcno and counts
   what the chip ran: a shell command sent exactly ten times shows 10 on its handler's lines,
   in QEMU and through pyOCD.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.coverage import gcda
from harness.coverage.gcov_info import Function, Unit
from harness.coverage.tree import mirror, write_tree

from .conftest import ROOT, WORLDS, function_lines, open_chip

pytestmark = pytest.mark.targets("qsm-washer")

HOST_PROGRAM = """
int counter;
__attribute__((noinline)) int never(int x) { if (x) counter++; return counter; }
__attribute__((noinline)) int ten(int x) { if (x & 1) counter += 3; else counter += 1;
                                           return counter; }
int main(int argc, char **argv) { (void)argv; for (int i = 0; i < 10; i++) ten(i);
                                  if (argc > 5) never(argc); return counter > 100; }
"""


def test_encoding_a_libgcov_file_again_gives_the_same_bytes(tmp_path):
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("no host gcc to produce a reference .gcda with libgcov")
    (tmp_path / "p.c").write_text(HOST_PROGRAM)
    subprocess.run([gcc, "-O0", "--coverage", "p.c", "-o", "p"], cwd=tmp_path, check=True)
    subprocess.run([str(tmp_path / "p")], cwd=tmp_path, check=True)
    raw = (tmp_path / "p.gcda").read_bytes()
    data = gcda.decode(raw, "p.gcda")
    assert [f.counts for f in data.functions][2] == (0, 0)  # never(): written all-zero
    functions = tuple(Function(f.ident or 0, f.lineno_checksum, f.cfg_checksum, 0,
                               len(f.counts), f.ident is not None) for f in data.functions)
    unit = Unit(str(tmp_path / "p.gcda"), data.version, data.stamp, data.checksum,
                functions, 0)
    assert gcda.encode(unit, data.counts, runs=data.runs, sum_max=data.sum_max) == raw


def _gcov_lines(gcov_text: str) -> dict[int, str]:
    """gcov's text output: line number → count column ('10', '#####', '-')."""
    out = {}
    for line in gcov_text.splitlines():
        m = re.match(r"\s*([^:]+):\s*(\d+):", line)
        if m and int(m.group(2)) > 0:
            out[int(m.group(2))] = m.group(1).strip()
    return out


@pytest.mark.parametrize("world", WORLDS)
def test_gcov_counts_a_command_sent_ten_times(world, washer, coverage_image, reader,
                                              harness_settings, tmp_path):
    if shutil.which("arm-none-eabi-gcov") is None:
        pytest.fail("arm-none-eabi-gcov missing: apt-get install gcc-arm-none-eabi")
    dut = open_chip(world, washer, coverage_image, harness_settings, f"gcov-{world}")
    try:
        reader.zero(dut.memory, dut.execution)
        for _ in range(10):
            assert dut.command("faults") == "none"
        counts = reader.read(dut.memory, dut.execution).counts
    finally:
        dut.close()
    data = tmp_path / "data"
    write_tree(data, reader.inst.units, counts, ROOT)
    main = next(u for u in reader.inst.units if Path(u.gcda).name == "main.gcda")
    objdir = mirror(data, main.gcda, ROOT).parent
    proc = subprocess.run(["arm-none-eabi-gcov", "-t", "-o", str(objdir),
                           str(ROOT / "firmware/washer/main.c")],
                          cwd=tmp_path, capture_output=True, text=True, check=True)
    lines = _gcov_lines(proc.stdout)
    faults = function_lines("firmware/washer/main.c", "static void cmd_faults")
    text = (ROOT / "firmware/washer/main.c").read_text().splitlines()
    none = next(n for n in faults if 'shell_okf("none")' in text[n - 1])
    assert lines[none] == "10", proc.stdout
    assert lines[faults.start] == "10"  # the function's entry
    # with no fault active the listing part never ran; nor did another command's handler
    listing = next(n for n in faults if "con_printf" in text[n - 1])
    assert lines[listing] == "#####"
    clear = function_lines("firmware/washer/main.c", "static void cmd_clear")
    assert lines[clear.start] == "#####"
