"""The pyocd world through the qemu: probe: run control, registers, breakpoints, flash, reset."""

import pytest

from harness.errors import DutLost, HarnessError
from harness.protocols import CORE_REGISTERS

pytestmark = pytest.mark.targets("qsm-washer")
UART0_DR = 0x4000C000


def test_connect_halt_step_resume(pdut):
    assert pdut.world == "pyocd" and not pdut.execution.is_halted
    halt = pdut.execution.halt()
    assert halt.reason == "interrupt" and pdut.execution.is_halted
    pcs = [pdut.execution.step() for _ in range(4)]
    assert all(h.reason == "trap" for h in pcs)
    assert len({h.pc for h in pcs} | {halt.pc}) > 1
    pdut.execution.resume()
    assert not pdut.execution.is_halted
    assert pdut.command("status").startswith("state=IDLE")


def test_core_registers_read_and_write(pdut):
    pdut.execution.halt()
    saved = pdut.execution.registers()
    assert set(saved) == set(CORE_REGISTERS)
    assert 0x20000000 <= saved["sp"] <= 0x20010000
    for i in range(13):
        pdut.execution.write_register(f"r{i}", 0xA000 + i)
    assert [pdut.execution.read_register(f"r{i}") for i in range(13)] == \
        [0xA000 + i for i in range(13)]
    for name, value in saved.items():
        pdut.execution.write_register(name, value)
    assert pdut.execution.registers() == saved
    pdut.execution.resume()
    assert pdut.command("status").startswith("state=IDLE")


def test_breakpoint_hit_with_reason(pdut, image):
    fn = image.symbol("cmd_version").address & ~1
    pdut.execution.set_breakpoint(fn)  # while the core runs
    pdut.console.sendline("version")
    halt = pdut.execution.wait_halt(timeout=2)
    assert halt is not None and (halt.reason, halt.pc) == ("trap", fn)
    pdut.execution.clear_breakpoint(fn)
    pdut.execution.resume()
    pdut.console.expect(r"^OK product=washer", timeout=2)
    assert pdut.execution.wait_halt(timeout=0.05) is None


def test_flash_and_verify(pdut, image):
    pdut.execution.halt()
    pdut.memory.write(0x400, b"\0" * 16)
    problems = pdut.loader.verify(image)
    assert problems and "0x00000400" in problems[0]
    pdut.loader.load(image)
    assert pdut.loader.verify(image) == []
    mark = pdut.console.mark()
    pdut.execution.resume()
    pdut.console.expect("^READY$", since=mark)


def test_mass_erase_then_reflash(pdut, image):
    pdut.execution.halt()
    pdut.loader.mass_erase()
    assert pdut.memory.read(0, 64) == b"\xff" * 64
    pdut.loader.load(image)
    pdut.execution.resume()
    pdut.console.expect("^READY$")


def test_reset_and_halt_lands_on_reset_vector(pdut):
    pdut.execution.reset(halt=True)
    assert pdut.execution.is_halted
    assert pdut.execution.read_register("pc") == pdut.memory.read_u32(4) & ~1
    assert pdut.execution.read_register("sp") == pdut.memory.read_u32(0)
    mark = pdut.console.mark()
    pdut.execution.resume()
    pdut.console.expect("^READY$", since=mark)
    pdut.reset()  # reset and run: the banner again
    assert pdut.command("status").startswith("state=IDLE")


def test_device_register_write_reaches_the_uart(pdut):
    mark = pdut.console.mark()
    pdut.memory.write_u32(UART0_DR, ord("Z"))  # QEMU drops debugger writes to devices
    pdut.console.expect_exact("Z", since=mark, timeout=2)


def test_qemu_killed_while_connected_names_the_probe(pdut):
    uid = pdut.backend.uid
    pdut.backend.process.kill()
    with pytest.raises(DutLost) as e:
        pdut.memory.read(0x20000000, 4)
    assert uid in str(e.value) and "died" in str(e.value)
    assert not pdut.alive


def test_unknown_probe_id_lists_available(target, image):
    from harness.backends.pyocd import open_dut

    with pytest.raises(HarnessError, match=r"no debug probe with unique id "
                                           r"'qemu:/nonexistent/gdb.sock'; available: "):
        open_dut(target, image, probe="qemu:/nonexistent/gdb.sock")
