"""ECU reset keeps the bus usable; a reused chip's UARTs are back at power-on state."""

import pytest
from udsoncan.services import ECUReset

pytestmark = [pytest.mark.targets("qsm-auto"), pytest.mark.requires("channels")]

STATUS = 0x3A0


def test_repeated_ecu_resets_keep_the_bus_usable(uds, dut, can_monitor):
    for reset_type in (ECUReset.ResetType.hardReset, ECUReset.ResetType.softReset,
                       ECUReset.ResetType.hardReset):
        uds.change_session(3)
        mark = dut.console.mark()
        assert uds.ecu_reset(reset_type).positive
        dut.console.expect(r"^READY$", timeout=5.0, since=mark)
        # the status frame restarts its rolling counter: it comes from the new boot
        can_monitor.wait_for(STATUS, lambda f: f.data[7] <= 2, timeout=2.0)
        assert uds.read_data_by_identifier_first(0xF186) == 1
        assert uds.tester_present().positive
    assert dut.symbols["diag_counters.slcan_errors"] == 0


@pytest.mark.requires("symbols")
def test_body_state_does_not_survive_an_ecu_reset(uds, dut, can_monitor):
    can_monitor.send(0x2A0, bytes([0x02, 0x01]))
    can_monitor.wait_for(STATUS, lambda f: f.data[1] == 1)
    dut.symbols["stimulus.battery_mv"] = 8000
    mark = dut.console.mark()
    uds.ecu_reset(ECUReset.ResetType.hardReset)
    dut.console.expect(r"^READY$", timeout=5.0, since=mark)
    assert dut.symbols["stimulus.battery_mv"] == 12600       # initialised data again
    frame = can_monitor.wait_for(STATUS, timeout=2.0)
    assert frame.data[1] == 0 and frame.data[4:6] == (126).to_bytes(2, "big")


UART1 = 0x40005000  # the SLCAN UART (CMSDK APB UART): STATE +4, CTRL +8, BAUDDIV +0x10


def uart_registers(dut, base):
    read = dut.memory.read  # a debugger read: no side effect on these registers
    return {name: int.from_bytes(read(base + off, 4), "little")
            for name, off in (("state", 4), ("ctrl", 8), ("intstatus", 0xC),
                              ("bauddiv", 0x10))}


def test_system_reset_restores_the_cmsdk_uarts(harness_manager, target, tmp_path):
    """Why qsm-auto.yaml needs no uart_drain/reset_writes: QEMU 7.2 resets the CMSDK UART on
    system_reset — registers and the one-byte receive buffer — unlike the lm3s PL011."""
    from tests.integration.diag.conftest import RawChannel

    pool = harness_manager.pool(target)
    dut = pool.acquire(tmp_path, boot=True)
    try:
        ch = RawChannel(dut.channels["can"])
        dut.execution.halt()
        ch.send(b"t7E0")                                 # a byte lands in RXFULL while halted
        import time

        time.sleep(0.2)
        before = uart_registers(dut, UART1)
        assert before["ctrl"] != 0 and before["state"] & 0x2   # running config, RX full
        ch.close()
    finally:
        dut.close()                                      # back to the pool
    again = pool.acquire(tmp_path, boot=False)           # halted at power-on
    try:
        for base in (0x40004000, UART1):
            assert uart_registers(again, base) == {
                "state": 0, "ctrl": 0, "intstatus": 0, "bauddiv": 0}
        again.boot()
        assert "bus=open" in again.command("status")
    finally:
        again.close()
