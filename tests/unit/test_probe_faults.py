"""The ``qemu:`` probe and the emulator under faults, against fakes of the layer below: the lockup
state of the debug unit, SCS reads of every width, the chip lock, run-dir ownership and sweep,
QEMU's log kept when it dies."""

from __future__ import annotations

import contextlib
import os
import struct
import subprocess
import sys
import threading
import time

import pytest

from harness.emu import process
from harness.errors import ProtocolError
from harness.probes import chips
from harness.probes import debug_unit as du
from harness.probes.gdb_core import Region
from harness.probes.qemu_probe import ProbeUnreachable, QemuMemoryInterface, QemuProbe

KEY = du.DBGKEY | du.C_DEBUGEN
CPUID_VALUE = 0x410FC231


class FakeCore:
    """A halted core as GdbCore shows it: memory (flash at 0, RAM, an SCS that answers word
    reads only, like QEMU's), run state and the calls made."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.running = False
        self.writable = [Region(0, 0x1000), Region(0x20000000, 0x1000)]
        self.mem = {0: bytearray(b"\xff" * 0x1000), 0x20000000: bytearray(0x1000)}
        self.scs = {0xE000ED00: CPUID_VALUE, 0xE000ED08: 0, 0xE000ED0C: 0xFA050000}
        self.pc = 0x100
        self.calls: list[str] = []

    def _region(self, address: int) -> tuple[bytearray, int]:
        for r in self.writable:
            if r.contains(address):
                return self.mem[r.start], address - r.start
        raise ProtocolError(f"gdbstub: cannot read at 0x{address:08x} (E14)")

    def read(self, address: int, length: int) -> bytes:
        if address >= 0xE0000000:
            if length != 4:
                return bytes(length)  # QEMU's SCS: a byte read gives 0
            return self.scs.get(address, 0).to_bytes(4, "little")
        buf, off = self._region(address)
        return bytes(buf[off:off + length])

    def read_u32(self, address: int) -> int:
        return struct.unpack("<I", self.read(address, 4))[0]

    def write(self, address: int, data: bytes, size: int = 4) -> None:
        self.calls.append(f"write {address:08x} {data.hex()} {size}")

    def flash(self, words: dict[int, int]) -> None:
        for a, v in words.items():
            self.mem[0][a:a + 4] = v.to_bytes(4, "little")

    def poll_stop(self):
        return None

    def read_core_register(self, regsel: int) -> int:
        return self.pc

    def halt(self):
        self.calls.append("halt")
        self.running = False

    def resume(self) -> None:
        self.calls.append("resume")
        self.running = True

    def step(self):
        self.calls.append("step")

    def reset(self) -> None:
        self.calls.append("reset")
        self.running = False


@pytest.fixture
def core():
    return FakeCore()


@pytest.fixture
def unit(core):
    u = du.DebugUnit(core, "cortex-m3")  # type: ignore[arg-type]
    u.lockup_check = u.runnable
    return u


def _flash_vectors(core: FakeCore) -> None:
    core.flash({0: 0x20001000, 4: 0x101, 12: 0x201})
    core.mem[0][0x100:0x102] = b"\x00\xbf"  # nop
    core.mem[0][0x200:0x202] = b"\xfe\xe7"  # b .


def test_a_blank_chip_locks_up_instead_of_running(unit, core):
    assert "no HardFault handler" in unit.runnable()
    unit.write32(du.DHCSR, KEY)  # resume
    assert "resume" not in core.calls and unit.locked
    d = unit.read32(du.DHCSR)
    assert d & du.S_LOCKUP and not d & du.S_HALT
    unit.write32(du.DHCSR, KEY | du.C_STEP)  # a step leaves it locked
    unit.write32(du.DHCSR, KEY)
    assert "step" not in core.calls and "resume" not in core.calls
    unit.write32(du.DHCSR, KEY | du.C_HALT)  # a halt request ends the lockup
    d = unit.read32(du.DHCSR)
    assert d & du.S_HALT and not d & du.S_LOCKUP
    assert unit.read32(du.DFSR) & du.DFSR_HALTED


def test_reset_of_a_blank_chip_locks_up_and_a_flashed_one_runs(unit, core):
    unit.write32(du.AIRCR, du.VECTKEY | du.SYSRESETREQ)
    assert core.calls == ["reset"] and unit.read32(du.DHCSR) & du.S_LOCKUP
    _flash_vectors(core)
    unit.write32(du.AIRCR, du.VECTKEY | du.SYSRESETREQ)  # a reset re-evaluates
    assert core.calls[-2:] == ["reset", "resume"] and not unit.locked
    unit.write32(du.DHCSR, KEY | du.C_HALT)
    core.mem[0][0x200:0x202] = b"\xff\xff"  # handler erased (a sector erase)
    assert "erased" in unit.runnable()
    unit.write32(du.DHCSR, KEY | du.C_STEP)
    assert unit.locked and core.calls[-1] != "step"


def test_without_a_check_the_unit_runs_whatever_is_there(core):
    u = du.DebugUnit(core, "cortex-m3")  # type: ignore[arg-type]
    u.write32(du.DHCSR, KEY)
    assert core.calls == ["resume"] and not u.locked


class FakeProbe:
    def __init__(self, unit) -> None:
        self.unit = unit

    def _guard(self):
        return contextlib.nullcontext()

    def _open_unit(self):
        return self.unit


@pytest.mark.parametrize("how", ["read32", "block8", "read8", "read16", "block32"])
def test_scs_reads_the_same_at_every_width(unit, how):
    m = QemuMemoryInterface(FakeProbe(unit))  # type: ignore[arg-type]
    a = 0xE000ED00
    got = {"read32": lambda: m.read_memory(a, 32),
           "block8": lambda: int.from_bytes(bytes(m.read_memory_block8(a, 4)), "little"),
           "read8": lambda: sum(m.read_memory(a + i, 8) << 8 * i for i in range(4)),
           "read16": lambda: m.read_memory(a, 16) | m.read_memory(a + 2, 16) << 16,
           "block32": lambda: m.read_memory_block32(a, 1)[0]}[how]()
    assert got == CPUID_VALUE
    across = bytes(m.read_memory_block8(a + 1, 6))  # bytes of two words
    assert across == CPUID_VALUE.to_bytes(4, "little")[1:] + bytes(3)


def test_scs_byte_writes_merge_into_emulated_registers(unit, core):
    m = QemuMemoryInterface(FakeProbe(unit))  # type: ignore[arg-type]
    m.write_memory_block8(du.DEMCR, [1, 0, 0, 1])  # whole word: VC_CORERESET | TRCENA
    assert unit.demcr == 0x01000001
    m.write_memory(du.DEMCR + 3, 0, 8)
    assert unit.demcr == 0x1
    m.write_memory(0xE000ED20, 0x40, 8)  # a QEMU register: a byte store by the core
    assert core.calls[-1] == "write e000ed20 40 1"


# -- who holds a chip ------------------------------------------------------------------------
def test_chip_lock_is_exclusive_names_the_holder_and_frees_on_release(tmp_path):
    path = tmp_path / "qsm-x" / "gdb.sock"
    path.parent.mkdir()
    lock = chips.lock_path(str(path))
    assert lock == path.with_name("gdb.sock.lock")
    assert chips.lock_path(str(tmp_path / "other" / "gdb.sock")) is None  # not our run dir
    first, second = chips.ChipLock(lock), chips.ChipLock(lock)
    assert first.acquire() is None
    holder = second.acquire()
    assert holder is not None and holder.startswith(f"pid {os.getpid()}: ")
    first.release()
    assert second.acquire() is None
    second.release()


def test_chip_lock_held_by_another_process_names_it(tmp_path):
    lock = tmp_path / "gdb.sock.lock"
    code = ("import sys, time; from harness.probes.chips import ChipLock; "
            f"l = ChipLock(__import__('pathlib').Path({str(lock)!r})); "
            "assert l.acquire() is None; print('held', flush=True); sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        busy = chips.ChipLock(lock).acquire()
        assert busy is not None and busy.startswith(f"pid {holder.pid}: ") and "-c" in busy
    finally:
        holder.communicate("", timeout=30)
    mine = chips.ChipLock(lock)
    assert mine.acquire() is None  # the holder died: the kernel dropped its lock
    mine.release()


def test_explicit_ids_give_a_probe_that_says_why_it_cannot_be_reached(tmp_path):
    uid = f"{tmp_path}/qsm-gone/gdb.sock"
    assert QemuProbe.get_probe_with_id(uid, is_explicit=True) is None  # not there...
    [probe] = QemuProbe.get_all_connected_probes(uid, is_explicit=True)  # ...yet a probe:
    assert probe.unique_id == f"qemu:{uid}"  # pyOCD would wait forever for one to appear
    listed = QemuProbe.get_all_connected_probes(uid, is_explicit=False)  # (other tests' chips
    assert f"qemu:{uid}" not in [p.unique_id for p in listed]  # of this worker may be there)
    with pytest.raises(ProbeUnreachable) as err:
        probe.open()
    text = str(err.value)
    assert f"no debug probe with unique id 'qemu:{uid}'; available: " in text
    assert "does not exist" in text
    assert "emulated chips of this process" in text
    assert not probe.is_open


# -- run dirs ----------------------------------------------------------------------------------
def test_run_dirs_record_their_owner_and_stale_ones_are_swept(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_RUNDIR", str(tmp_path))
    mine = process.make_rundir()
    assert (mine / process.OWNER_FILE).read_text().split()[0] == str(os.getpid())
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / "qsm-deadbeef"
    stale.mkdir()
    (stale / process.OWNER_FILE).write_text(f"{dead.pid} 1\n")
    reused = tmp_path / "qsm-probe-reused00"  # our pid, another start time: a reused pid
    reused.mkdir()
    (reused / process.OWNER_FILE).write_text(f"{os.getpid()} 1\n")
    legacy_new, legacy_old = tmp_path / "qsm-legacy01", tmp_path / "qsm-legacy02"
    legacy_new.mkdir()
    legacy_old.mkdir()
    old = time.time() - process.LEGACY_AGE - 60
    os.utime(legacy_old, (old, old))
    leases = tmp_path / "qsm-harness-leases"  # not a run dir
    leases.mkdir()
    os.utime(leases, (old, old))
    removed = process.sweep_stale_rundirs()
    assert sorted(removed) == sorted([stale, reused, legacy_old])
    assert mine.exists() and legacy_new.exists() and leases.exists()


def test_a_run_dir_being_made_is_never_swept(tmp_path, monkeypatch):
    """Another process's sweep can look between mkdtemp and the owner's write: a fresh dir with
    no owner yet, or an empty one, is a dir being made, not a stale one."""
    monkeypatch.setenv("HARNESS_RUNDIR", str(tmp_path))
    bare, empty = tmp_path / "qsm-making01", tmp_path / "qsm-making02"
    bare.mkdir()
    empty.mkdir()
    (empty / process.OWNER_FILE).write_text("")
    assert process.sweep_stale_rundirs() == []
    assert bare.exists() and empty.exists()
    made = process.make_rundir()
    assert [p.name for p in made.iterdir()] == [process.OWNER_FILE]


def test_the_sweep_stops_a_qemu_left_by_a_dead_owner(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_RUNDIR", str(tmp_path))
    orphan = subprocess.Popen(["sleep", "60"])
    try:
        d = tmp_path / "qsm-orphan01"
        d.mkdir()
        (d / process.OWNER_FILE).write_text("1 1\n")  # pid 1 with another start time: gone
        process.note_qemu(d, orphan.pid)
        assert process.sweep_stale_rundirs() == [d]
        assert orphan.wait(30) == -9
    finally:
        orphan.kill()
        orphan.wait()


def test_qemu_log_is_kept_in_the_log_dir_or_beside_the_run_dir(tmp_path):
    run = tmp_path / "qsm-abcdefgh"
    run.mkdir()
    assert process.keep_log(run, None, "x") is None  # no log: nothing to keep
    (run / "qemu.log").write_text("qemu: fatal: Lockup: can't escalate 3 to HardFault\n")
    logs = tmp_path / "logs"
    first = process.keep_log(run, logs, "washer")
    second = process.keep_log(run, logs, "washer")
    assert first == logs / "washer.qemu.log" and second == logs / "washer.2.qemu.log"
    beside = process.keep_log(run, None, "washer")
    assert beside == tmp_path / "qsm-abcdefgh.qemu.log" and "Lockup" in beside.read_text()
    unwritable = tmp_path / "file"
    unwritable.write_text("")
    assert process.keep_log(run, unwritable / "sub", "w") == tmp_path / "qsm-abcdefgh.2.qemu.log"


def test_only_a_qemu_that_died_on_its_own_leaves_a_log():
    assert process.died_on_its_own(-6) and process.died_on_its_own(1)  # abort, fatal exit
    assert process.died_on_its_own(-11)  # SIGSEGV
    for stopped in (None, 0, -9, -15, -2):  # running, clean exit, killed or stopped on purpose
        assert not process.died_on_its_own(stopped)
