import socket
import time
from pathlib import Path

import pytest

from harness.console import Console
from harness.errors import CommandError, ConsoleTimeout, DutFault, DutLost


@pytest.fixture
def pair(tmp_path):
    ours, chip = socket.socketpair()
    con = Console(ours, "chip/shell", tmp_path / "chip.shell.log")
    yield con, chip
    con.close()
    chip.close()


def test_expect_consumes_and_returns_groups(pair):
    con, chip = pair
    chip.sendall(b"QSM boot version=1.2.3\r\nREADY\r\n")
    m = con.expect(r"version=(\S+)")
    assert m.group(1) == "1.2.3"
    con.expect("^READY")
    with pytest.raises(ConsoleTimeout):
        con.expect("^READY", timeout=0.05)  # consumed


def test_partial_line_is_not_matched_until_complete(pair):
    con, chip = pair
    chip.sendall(b"OK sta")
    with pytest.raises(ConsoleTimeout):
        con.expect(r"^OK (.*)$", timeout=0.1)
    chip.sendall(b"te=IDLE\r\n")
    assert con.expect(r"^OK (.*?)\r?$").group(1) == "state=IDLE"


def test_partial_flag_matches_prompts(pair):
    con, chip = pair
    chip.sendall(b"login: ")
    con.expect("login: $", partial=True, timeout=1)


def test_read_since_and_since_do_not_lose_output(pair):
    con, chip = pair
    mark = con.mark()
    chip.sendall(b"EVT state FILL\r\nOK start cotton\r\nEVT state WASH\r\n")
    con.expect("^OK")
    # cursor is past FILL, but looking back from the mark still finds it
    con.expect("^EVT state FILL", since=mark)
    assert "EVT state FILL" in con.read_since(mark)
    con.expect("^EVT state WASH")


def test_list_of_patterns_reports_which(pair):
    con, chip = pair
    chip.sendall(b"boot\r\nPANIC\r\n")
    m = con.expect(["^READY", "^PANIC"])
    assert m.index == 1


def test_timeout_message_names_pattern_time_and_last_lines(pair):
    con, chip = pair
    chip.sendall(b"".join(b"line %d\r\n" % i for i in range(30)))
    time.sleep(0.05)
    with pytest.raises(ConsoleTimeout) as e:
        con.expect("^NEVER", timeout=0.1)
    msg = str(e.value)
    assert "'^NEVER'" in msg and "0.10 s" in msg and "chip/shell" in msg
    assert "line 29" in msg and "line 10" in msg and "line 9\n" not in msg


def test_timeout_factor_scales(tmp_path):
    ours, chip = socket.socketpair()
    con = Console(ours, "slow", timeout_factor=3.0)
    t0 = time.monotonic()
    with pytest.raises(ConsoleTimeout, match="0.15 s"):
        con.expect("x", timeout=0.05)
    assert time.monotonic() - t0 >= 0.15
    con.close()
    chip.close()


def test_command_ok_err_and_async_events(pair):
    con, chip = pair
    chip.sendall(b"EVT state FILL\r\nOK state=FILL water=3\r\n")
    assert con.command("status") == "state=FILL water=3"
    assert chip.recv(100) == b"status\n"
    chip.sendall(b"ERR 4 door open\r\n")
    with pytest.raises(CommandError) as e:
        con.command("start cotton")
    assert (e.value.code, e.value.text) == (4, "door open")
    chip.sendall(b"OK\r\n")
    assert con.command("clear") == ""


def test_fault_report_raises_with_the_report(pair):
    con, chip = pair
    chip.sendall(b"*** HARDFAULT pc=0x00000123 lr=0xfffffff9 cfsr=0x00010000 hfsr=0x40000000\r\n"
                 b"*** HALTED\r\n")
    with pytest.raises(DutFault, match=r"pc=0x00000123.*cfsr=0x00010000"):
        con.command("status", timeout=0.5)


def test_pattern_may_expect_the_fault_itself(pair):
    con, chip = pair
    chip.sendall(b"*** HARDFAULT pc=0x1 lr=0x2 cfsr=0x3 hfsr=0x4\r\n")
    assert con.expect(r"HARDFAULT pc=(\S+)").group(1) == "0x1"


def test_closed_console_is_dut_lost_with_last_lines(pair):
    con, chip = pair
    chip.sendall(b"last words\r\n")
    time.sleep(0.02)
    chip.close()
    with pytest.raises(DutLost, match="last words"):
        con.expect("^READY", timeout=2)
    with pytest.raises(DutLost):
        con.sendline("status")


def test_log_file_has_timestamped_lines_both_ways(pair, tmp_path):
    con, chip = pair
    chip.sendall(b"hello\r\n")
    con.expect("hello")
    con.sendline("status")
    con.close()
    text = (tmp_path / "chip.shell.log").read_text()
    assert "ms] < hello" in text
    assert "ms] > status" in text


def test_time_of_and_clear(pair):
    con, chip = pair
    t0 = time.monotonic()
    chip.sendall(b"a\r\n")
    con.expect("a")
    assert con.time_of(0) >= t0
    con.clear()
    assert con.text == "" and con.mark() == 0
    assert con.t0 > t0  # times count from the clear (a reused chip's power-on)


def test_a_log_that_cannot_be_written_says_why_and_the_console_reads_on(monkeypatch):
    """/dev/full fails every write with ENOSPC, as a full results disk does."""
    from harness.console import ConsoleLog

    log = ConsoleLog(None, time.monotonic())
    monkeypatch.setattr(Path, "mkdir", lambda *a, **k: None)  # /dev exists
    log.open(Path("/dev/full"))
    log.received(time.monotonic(), "a line\n")
    log.note("a note")
    log.close()
    assert log.error is not None and log.error.startswith("/dev/full: No space left")
    ours, chip = socket.socketpair()
    con = Console(ours, "full", log_path=None)
    con.log.open(Path("/dev/full"))
    chip.sendall(b"READY\r\n")
    assert con.expect("^READY$", timeout=2).group(0) == "READY"
    assert not con.closed and "No space left" in (con.log.error or "")
    con.close()
    chip.close()


class FakeChipClock:
    """A chip clock that moves only when told to (or never: None, a halted chip)."""

    def __init__(self, halted=False):
        self.ns, self.halted, self.reads = 0, halted, 0

    def __call__(self):
        self.reads += 1
        return None if self.halted else self.ns


def test_a_wait_out_of_host_time_goes_on_until_the_chip_had_its_timeout(pair):
    con, chip = pair
    clock = FakeChipClock()
    con.chip_now = clock
    with pytest.raises(ConsoleTimeout, match="of the chip's own time") as err:
        con.expect(r"^never$", timeout=0.05)  # the chip's time stands still: up to the cap
    assert clock.reads > 1
    assert "and 0 ms of the chip's own time" in str(err.value)

    def late():  # the line comes only after the host's limit ran out
        chip.sendall(b"late\n")
        return 0

    con.chip_now = late
    assert con.expect(r"^late$", timeout=0.05).group(0) == "late"  # found in the chip's grace


def test_a_chip_that_had_its_time_or_is_halted_fails_the_wait_at_the_hosts_limit(pair):
    con, _ = pair
    clock = FakeChipClock()

    def fast():
        clock.ns += 10**9  # a second of chip time per read
        return clock.ns

    con.chip_now = fast
    with pytest.raises(ConsoleTimeout, match="and 1000 ms of the chip's own time"):
        con.expect(r"^never$", timeout=0.05)
    halted = FakeChipClock(halted=True)
    con.chip_now = halted
    with pytest.raises(ConsoleTimeout) as err:
        con.expect(r"^never$", timeout=0.05)
    assert "chip's own time" not in str(err.value) and halted.reads == 1
