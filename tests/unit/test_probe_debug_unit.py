"""The qemu: probe's emulated debug registers against a scripted gdbstub peer.

The peer keeps registers, a little memory and run state, and records every packet it receives,
so a test can assert which RSP traffic a debug-register access caused.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from harness.emu.rsp import RspClient
from harness.emu.rsp_wire import RspConnection, checksum
from harness.probes import debug_unit as du
from harness.probes.gdb_core import GdbCore, Region

KEY = du.DBGKEY | du.C_DEBUGEN

# -- a scripted gdbstub peer: QEMU's answers on a socketpair, every packet recorded ----------

TARGET_XML = ('<?xml version="1.0"?><target><architecture>arm</architecture>'
              '<feature name="org.gnu.gdb.arm.m-profile">'
              + "".join(f'<reg name="r{i}" bitsize="32"/>' for i in range(13))
              + '<reg name="sp" bitsize="32"/><reg name="lr" bitsize="32"/>'
              '<reg name="pc" bitsize="32"/><reg name="xpsr" bitsize="32" regnum="25"/>'
              '</feature></target>')
REGNUMS = {**{f"r{i}": i for i in range(13)}, "sp": 13, "lr": 14, "pc": 15, "xpsr": 25}


class StubPeer:
    def __init__(self) -> None:
        self.ours, theirs = socket.socketpair()
        self.sock = theirs
        self.regs = {n: 0 for n in REGNUMS.values()}
        self.regs[15] = 0x100
        self.memory = bytearray(0x100000)  # 0x0 flash, 0x20000000.. mapped to 0x80000
        self.running = False
        self.packets: list[str] = []
        self.breakpoints: set[int] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def client(self) -> RspClient:
        c = RspClient(RspConnection(self.ours, 2.0, name="stub"))
        c.handshake()
        self.packets.clear()
        return c

    def close(self) -> None:
        self.sock.close()
        self.ours.close()

    # -- memory map: flash at 0, RAM at 0x20000000 (both small) --------------------------------
    def _off(self, addr: int) -> int:
        return addr - 0x20000000 + 0x80000 if addr >= 0x20000000 else addr

    def hit_breakpoint(self, pc: int) -> None:
        """The running VM reaches a breakpoint: it stops and says so by itself."""
        self.regs[15] = pc
        self.running = False
        self._send("T05thread:p01.01;")

    def _send(self, body: str) -> None:
        data = body.encode()
        self.sock.sendall(b"$" + data + b"#" + b"%02x" % checksum(data))

    def _serve(self) -> None:
        buf = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return
                buf += chunk
                while buf:
                    if buf[:1] in (b"+", b"-"):
                        buf = buf[1:]
                    elif buf[:1] == b"\x03":
                        buf = buf[1:]
                        self.packets.append("^C")
                        self.running = False
                        self._send("T02thread:p01.01;")
                    elif buf[:1] == b"$":
                        end = buf.find(b"#")
                        if end < 0 or len(buf) < end + 3:
                            break
                        body, buf = buf[1:end].decode(), buf[end + 3:]
                        self.sock.sendall(b"+")
                        self.packets.append(body)
                        reply = self._answer(body)
                        if reply is not None:
                            self._send(reply)
                    else:
                        buf = buf[1:]
        except OSError:
            return

    def _answer(self, p: str) -> str | None:
        if p.startswith("qSupported"):
            return "PacketSize=1000;qXfer:features:read+"
        if p.startswith("qXfer:features:read:target.xml:"):
            off, length = (int(x, 16) for x in p.rsplit(":", 1)[1].split(","))
            part = TARGET_XML[off:off + length]
            return ("l" if off + length >= len(TARGET_XML) else "m") + part
        if p == "?":
            return "T05thread:p01.01;"
        if p.startswith("p"):
            return self.regs[int(p[1:], 16)].to_bytes(4, "little").hex()
        if p.startswith("P"):
            n, v = p[1:].split("=")
            self.regs[int(n, 16)] = int.from_bytes(bytes.fromhex(v), "little")
            return "OK"
        if p.startswith("m"):
            a, n = (int(x, 16) for x in p[1:].split(","))
            return bytes(self.memory[self._off(a):self._off(a) + n]).hex()
        if p.startswith("M"):
            head, data = p[1:].split(":")
            a = int(head.split(",")[0], 16)
            raw = bytes.fromhex(data)
            self.memory[self._off(a):self._off(a) + len(raw)] = raw
            return "OK"
        if p == "c":
            self.running = True
            return None
        if p == "s":
            pc = self.regs[15]
            code = bytes(self.memory[self._off(pc):self._off(pc) + 2])
            if code == b"\x01\x60":  # str r1,[r0]: record the device write
                self.packets.append(f"store {self.regs[0]:08x}={self.regs[1]:08x}")
            self.regs[15] = pc + 2
            return "T05thread:p01.01;"
        if p[:2] in ("Z1", "z1"):
            addr = int(p.split(",")[1], 16)
            (self.breakpoints.add if p[0] == "Z" else self.breakpoints.discard)(addr)
            return "OK"
        if p.startswith("qRcmd,"):
            cmd = bytes.fromhex(p[6:]).decode()
            if cmd == "system_reset":
                self.regs[15] = int.from_bytes(self.memory[4:8], "little") & ~1
                self.regs[13] = int.from_bytes(self.memory[0:4], "little")
                self.running = False
            return "OK"
        return ""


@pytest.fixture
def stub():
    peer = StubPeer()
    yield peer
    peer.close()


@pytest.fixture
def unit(stub):
    core = GdbCore(stub.client(), [Region(0, 0x40000), Region(0x20000000, 0x10000)],
                   scratch=0x20000000, name="qemu:test")
    return du.DebugUnit(core, "cortex-m3")


def _wait(pred, what):
    deadline = time.monotonic() + 10  # a bound on a busy machine, not a speed requirement
    while not pred():
        assert time.monotonic() < deadline, what
        time.sleep(0.001)


def test_dhcsr_halt_step_run_state_machine(unit, stub):
    assert unit.read32(du.DHCSR) & du.S_HALT  # connecting leaves the VM stopped
    unit.write32(du.DHCSR, KEY)  # run
    # "c" has no reply: the stub may lag
    _wait(lambda: stub.packets and stub.packets[-1] == "c", "resume")
    d = unit.read32(du.DHCSR)
    assert not d & du.S_HALT and d & du.S_RETIRE_ST and d & du.C_DEBUGEN
    unit.write32(du.DHCSR, KEY | du.C_HALT)  # halt request → Ctrl-C
    assert stub.packets[-1] == "^C"
    d = unit.read32(du.DHCSR)
    assert d & du.S_HALT and d & du.C_HALT
    assert unit.read32(du.DFSR) & du.DFSR_HALTED
    unit.write32(du.DFSR, 0x1F)  # write one to clear
    assert unit.read32(du.DFSR) == 0
    pc = stub.regs[15]
    unit.write32(du.DHCSR, KEY | du.C_STEP | du.C_MASKINTS)  # step
    assert stub.packets[-1] == "s" and stub.regs[15] == pc + 2
    assert unit.read32(du.DHCSR) & du.C_HALT
    n = len(stub.packets)
    unit.write32(du.DHCSR, 0x1234_0000 | du.C_DEBUGEN)  # no DBGKEY: ignored
    assert len(stub.packets) == n


def test_breakpoint_stop_seen_through_dhcsr_and_dfsr(unit, stub):
    unit.write32(du.DHCSR, KEY)
    stub.hit_breakpoint(0x2C0)
    _wait(lambda: unit.read32(du.DHCSR) & du.S_HALT, "halt after breakpoint")
    assert unit.read32(du.DFSR) & du.DFSR_BKPT


def test_dcrsr_dcrdr_core_register_transfers_with_s_regrdy(unit, stub):
    stub.regs[5] = 0xCAFEF00D
    unit.write32(du.DCRSR, 5)
    assert stub.packets[-1] == "p5"
    assert unit.read32(du.DHCSR) & du.S_REGRDY
    assert unit.read32(du.DCRDR) == 0xCAFEF00D
    unit.write32(du.DCRDR, 0x12345678)
    unit.write32(du.DCRSR, du.DCRSR_REGWNR | 15)  # pc
    assert stub.packets[-1] == "Pf=78563412" and stub.regs[15] == 0x12345678
    unit.write32(du.DCRSR, 16)  # xPSR is gdb register 25
    assert stub.packets[-1] == "p19"
    unit.write32(du.DCRSR, 17)  # MSP: not exposed by QEMU 7.2, derived from SP
    assert stub.packets[-1] == "pd"
    assert "msp" in unit.core.derived


@pytest.mark.parametrize("catch", [False, True])
def test_aircr_sysresetreq_resets_and_honours_vector_catch(unit, stub, catch):
    stub.memory[0:8] = (0x20010000).to_bytes(4, "little") + (0x131).to_bytes(4, "little")
    unit.write32(du.DEMCR, du.VC_CORERESET if catch else 0)
    unit.write32(du.DHCSR, KEY)  # running
    unit.write32(du.AIRCR, du.VECTKEY | du.SYSRESETREQ)
    cmds = [p for p in stub.packets if p.startswith("qRcmd,")]
    assert [bytes.fromhex(c[6:]).decode() for c in cmds] == ["system_reset"]
    first = unit.read32(du.DHCSR)
    assert first & du.S_RESET_ST and not unit.read32(du.DHCSR) & du.S_RESET_ST  # once
    if catch:
        assert first & du.S_HALT and stub.regs[15] == 0x130
        assert unit.read32(du.DFSR) & du.DFSR_VCATCH
    else:
        assert not first & du.S_HALT
        # "c" has no reply
        _wait(lambda: stub.packets and stub.packets[-1] == "c", "resume after the reset")


def test_aircr_without_key_is_not_a_reset(unit, stub):
    assert unit.write32(du.AIRCR, du.SYSRESETREQ) is False  # left to the caller (device write)
    assert not any(p.startswith("qRcmd") for p in stub.packets)


def test_fpb_comparators_become_z1_breakpoints(unit, stub):
    unit.write32(du.FP_COMP0, 0x4000_0C78 | 1)  # REPLACE=01: lower halfword
    assert stub.breakpoints == set()  # FPB still disabled
    unit.write32(du.FP_CTRL, du.FP_KEY | du.FP_ENABLE)
    assert stub.breakpoints == {0xC78} and "Z1,c78,2" in stub.packets
    unit.write32(du.FP_COMP0 + 4, 0x8000_0100 | 1)  # REPLACE=10: upper halfword
    assert stub.breakpoints == {0xC78, 0x102}
    unit.write32(du.FP_COMP0, 0)
    assert stub.breakpoints == {0x102} and "z1,c78,2" in stub.packets
    unit.write32(du.FP_CTRL, du.FP_KEY)
    assert stub.breakpoints == set()
    fp_ctrl = unit.read32(du.FP_CTRL)
    assert fp_ctrl >> 4 & 0xF == du.NUM_CODE and fp_ctrl >> 8 & 0xF == du.NUM_LIT


def test_rom_table_and_component_ids(unit):
    rom = du.ROM_TABLE
    assert [unit.read32(rom + o) for o in (0xFF0, 0xFF4, 0xFF8, 0xFFC)] == [0x0D, 0x10, 0x05,
                                                                           0xB1]
    scs = (rom + (unit.read32(rom) & 0xFFFFF000)) & 0xFFFFFFFF
    assert scs == du.SCS and unit.read32(du.SCS + 0xFF4) == 0xE0
    assert unit.read32(rom + 8) == 0  # end of table
    assert unit.read32(0xE000ED00) is None  # CPUID: QEMU answers


def test_device_register_write_is_a_planted_store(unit, stub):
    stub.regs.update({0: 7, 1: 8, 15: 0x400})
    stub.memory[0x80000:0x80002] = b"\xaa\xbb"
    unit.core.write(0x4000C000, b"A\0\0\0")
    assert "store 4000c000=00000041" in stub.packets
    assert (stub.regs[0], stub.regs[1], stub.regs[15]) == (7, 8, 0x400)  # restored
    assert stub.memory[0x80000:0x80002] == b"\xaa\xbb"
    unit.core.write(0x20000010, b"xy")  # RAM: a plain M packet
    assert stub.packets[-1].startswith("M20000010,2:")
