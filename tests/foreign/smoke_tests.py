"""A newcomer's smoke test for their own firmware: written against `dut`, nothing else.

Copied into an inner pytest run by tests/integration/test_foreign_firmware.py, once per world.
"""

import pytest


def test_answers_at_its_prompt(dut):
    assert dut.command("add 2 40") == "42"
    assert dut.command("echo hello, bench") == "hello, bench"
    assert dut.command("frobnicate") == "?"


def test_each_test_gets_a_chip_at_power_on(dut):
    assert dut.command("ticks") == "1"  # counts lines since reset: nothing leaked in


@pytest.mark.requires("memory")
def test_reads_the_vector_table(dut):
    image_sp = int.from_bytes(dut.image.segments[0].data[:4], "little")
    assert int(dut.command("peek 0x0"), 16) == image_sp == dut.memory.read_u32(0)


@pytest.mark.requires("symbols")
def test_symbols_where_the_image_has_them(dut):
    dut.command("add 1 1")
    assert dut.symbols["executed"] == 1


@pytest.mark.requires("breakpoints", "symbols")
def test_a_breakpoint_stops_the_core_where_it_says(dut):
    """The core's breakpoint unit (an M0's BPU, an M3/M4/M7's FPB) through the world's
    debugger: halt at the interpreter, look, resume."""
    execute = dut.image.symbol("execute").address & ~1
    dut.execution.set_breakpoint(execute)
    try:
        dut.console.sendline("add 20 22")
        halt = dut.execution.wait_halt(timeout=5.0 * dut.timeout_factor)
        assert halt is not None and halt.pc == execute
    finally:
        dut.execution.clear_breakpoint(execute)
    dut.execution.resume()
    dut.console.expect("^42$", timeout=2)
