"""Memory, registers, run control and breakpoints through our gdbstub client."""

import os

import pytest

from harness.protocols import CORE_REGISTERS

pytestmark = pytest.mark.targets("qsm-washer")


def test_ram_round_trip_large_and_unaligned(dut, scratch):
    data = os.urandom(8191)  # several M/m chunks, odd length
    dut.memory.write(scratch + 1, data)
    assert dut.memory.read(scratch + 1, len(data)) == data
    dut.memory.write_u32(scratch, 0xDEADBEEF)
    assert dut.memory.read_u32(scratch) == 0xDEADBEEF
    assert dut.memory.read(scratch, 4) == bytes.fromhex("efbeadde")


def test_memory_access_keeps_a_running_core_running(dut, scratch):
    assert not dut.execution.is_halted
    dut.memory.write_u32(scratch, 1)
    assert not dut.execution.is_halted
    assert dut.command("status").startswith("state=IDLE")


def test_flash_reads_match_the_elf(dut):
    for seg in dut.image.segments:
        if seg.address < 0x20000000:
            assert dut.memory.read(seg.address, len(seg.data)) == seg.data
    assert dut.loader.verify(dut.image) == []


def test_core_registers_round_trip(dut):
    dut.execution.halt()
    saved = dut.execution.registers()
    assert set(saved) == set(CORE_REGISTERS)
    for i in range(13):
        dut.execution.write_register(f"r{i}", 0x1000 + i)
    assert [dut.execution.read_register(f"r{i}") for i in range(13)] == \
        [0x1000 + i for i in range(13)]
    for name, value in saved.items():
        dut.execution.write_register(name, value)
    assert dut.execution.registers() == saved
    dut.execution.resume()
    assert dut.command("status").startswith("state=IDLE")


def test_step_moves_pc(dut):
    halt = dut.execution.halt()
    assert halt.reason == "interrupt"
    pcs = [dut.execution.step().pc for _ in range(5)]
    assert len(set(pcs + [halt.pc])) > 1
    dut.execution.resume()


def test_breakpoint_stops_at_function_and_resumes(dut):
    fn = dut.image.symbol("cmd_version").address & ~1
    dut.execution.set_breakpoint(fn)
    dut.console.sendline("version")
    halt = dut.execution.wait_halt(timeout=2)
    assert halt is not None and halt.reason == "trap" and halt.pc == fn
    dut.execution.clear_breakpoint(fn)
    dut.execution.resume()
    dut.console.expect(r"^OK product=washer", timeout=2)


def test_wait_halt_times_out_when_nothing_stops(dut):
    assert dut.execution.wait_halt(timeout=0.05) is None
    assert not dut.execution.is_halted


def test_reset_reboots_and_halt_reset_stops_at_reset_vector(dut):
    dut.command("start quick")
    dut.reset()
    assert dut.command("status").startswith("state=IDLE")
    dut.execution.reset(halt=True)
    reset_vector = dut.memory.read_u32(4)
    assert dut.execution.read_register("pc") == reset_vector & ~1
    assert dut.execution.read_register("sp") == dut.memory.read_u32(0)
    mark = dut.console.mark()
    dut.execution.resume()
    dut.console.expect("^READY$", since=mark)


def test_bss_is_zeroed_on_reset(dut):
    # the firmware, not the emulator, must clear RAM: dirty .bss then reset
    outputs = dut.image.symbol("outputs")
    dut.execution.halt()
    dut.memory.write(outputs.address, b"\xa5" * outputs.size)
    dut.reset()
    assert all(v == 0 for v in dut.symbols["outputs"].values())


def test_loader_writes_and_verifies_the_image(dut):
    dut.execution.halt()
    flash = next(s for s in dut.image.segments if s.address == 0)
    dut.memory.write(0x400, b"\0" * 16)
    assert dut.loader.verify(dut.image)
    dut.loader.load(dut.image)
    assert dut.memory.read(0, len(flash.data)) == flash.data
    mark = dut.console.mark()
    dut.execution.resume()
    dut.console.expect("^READY$", since=mark)


TIMER1_TAILR = 0x40031028  # lm3s6965 GPTM1 interval load; the firmware leaves GPTM1 alone


def test_device_register_writes_reach_the_peripheral(dut, scratch):
    """QEMU's debugger path drops writes to device registers: the core does them, and
    leaves no trace in its registers or in RAM."""
    dut.execution.halt()
    dut.memory.write_u32(scratch, 0x5AA5F00D)
    before = dut.execution.registers()
    dut.memory.write_u32(TIMER1_TAILR, 0x1234)
    assert dut.memory.read_u32(TIMER1_TAILR) == 0x1234
    dut.memory.write(TIMER1_TAILR, (0xBEEF).to_bytes(4, "little"))
    assert dut.memory.read_u32(TIMER1_TAILR) == 0xBEEF
    assert dut.execution.registers() == before
    assert dut.memory.read_u32(scratch) == 0x5AA5F00D
    dut.execution.resume()
    assert dut.command("status").startswith("state=IDLE")
