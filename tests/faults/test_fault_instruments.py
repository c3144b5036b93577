"""Instrument faults: a server killed in the middle of a query, a server answering garbage, a
serial supply answering late. Real PyVISA/pyvisa-py sessions over loopback TCP and a pty
(through pyserial); the killed server is a real process (``python -m
harness.instruments.virtual``) and the garbage one a real TCP server run by the test.

Each test asserts its outcome and that nothing it started outlived it: threads of this process
and its open fds (sockets, ptys, pipes) are compared with what was there before.
"""

from __future__ import annotations

import contextlib
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from faultkit import WAIT, open_fds

from harness.bench import Instrument, SerialSettings, SupplyChannel
from harness.instruments.drivers import open_instrument
from harness.instruments.errors import InstrumentError, InstrumentTimeout
from harness.instruments.scpi import ScpiSession, resource_manager
from harness.instruments.virtual.lab import VirtualLab


@pytest.fixture
def no_leaks():
    """Fails the test if threads or fds it started are still there (after a bounded wait)."""
    resource_manager()  # the process's PyVISA manager is opened once, for every session
    threads = set(threading.enumerate())
    fds = open_fds()
    yield

    def leaked() -> list[str]:
        found = [f"thread {t.name}" for t in threading.enumerate()
                 if t not in threads and t.is_alive()]
        return found + [f"fd {f}" for f in sorted(open_fds() - fds)]

    deadline = time.monotonic() + 10.0  # threads and sockets end within POLL
    while leaked() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leaked() == []


# -- (a) a server process killed in the middle of a query ---------------------------------
@contextlib.contextmanager
def served(model: str, log):
    """``python -m harness.instruments.virtual MODEL`` on loopback TCP: (process, resource)."""
    proc = subprocess.Popen([sys.executable, "-m", "harness.instruments.virtual", model],
                            stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                            text=True)
    try:
        assert proc.stdout is not None
        ready = select.select([proc.stdout], [], [], WAIT)[0]
        line = proc.stdout.readline() if ready else ""
        assert line, f"the instrument server did not start (exit {proc.poll()})"
        yield proc, line.split()[1]
    finally:
        proc.kill()
        proc.wait(WAIT)
        assert proc.stdout is not None
        proc.stdout.close()


@pytest.mark.parametrize("when", ["mid-query", "idle"])
def test_server_killed_is_an_error_naming_the_resource_not_a_hang(no_leaks, tmp_path, when):
    with open(tmp_path / "server.log", "w") as log, served("keysight-53220a", log) as (proc,
                                                                                      resource):
        inst = Instrument(name="counter-k", kind="counter", resource=resource, timeout_ms=2000)
        counter = open_instrument(inst, timeout_factor=2)
        session = counter.session
        try:
            # no signal and a 60 s gate: the counter answers a duty-cycle query in 60 s
            session.write("SENS:FREQ:GATE:TIME 60")
            killer = threading.Timer(0.2 if when == "mid-query" else 0.0, proc.send_signal,
                                     (signal.SIGKILL,))
            killer.start()
            if when == "idle":
                killer.join(WAIT)
                proc.wait(WAIT)
            started = time.monotonic()
            with pytest.raises(InstrumentError) as e:
                session.query_float("MEAS:DCYC? (@1)")
            took = time.monotonic() - started
            killer.join(WAIT)
            message = str(e.value)
            assert message.startswith(f"{resource}: ")
            assert re.search(r"closed the connection|connection lost", message), message
            assert "MEAS:DCYC? (@1)" in message
            assert took < session.limit_ms() / 1000, f"{took:.1f} s: {message}"
            # the session knows the instrument is gone: every later call says so at once
            with pytest.raises(InstrumentError, match=re.escape(resource) + r".*cannot send"):
                session.query("*IDN?")
        finally:
            counter.close()
        assert proc.wait(WAIT) == -signal.SIGKILL


# -- (b) a server answering garbage --------------------------------------------------------
IDN = "ACME Instruments,GARBAGE-1,SN0001,0.1"
GARBAGE = {
    "MEAS:BIN?": b"\x89PNG\r\n\x1a\n\x00\x00IHDR\n",  # binary, with line ends inside
    "MEAS:WORD?": b"OVERLOAD\n",
    "MEAS:NAN?": b"nan\n",          # float() would take it
    "MEAS:INF?": b"-inf\n",
    "MEAS:LIST?": b"+1.0E+00,+2.0E+00\n",
    "MEAS:EMPTY?": b"\n",
    "MEAS:PART?": b"+7.5E+00",       # unterminated: never a whole answer
}
GOOD = ("MEAS:OK?", b"+1.250000000E+00\n", 1.25)


class GarbageServer:
    """A loopback TCP instrument: a sensible ``*IDN?`` and resync marker, then garbage."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(WAIT)
        self.resource = f"TCPIP::127.0.0.1::{self.listener.getsockname()[1]}::SOCKET"
        self.answer_markers = True
        self.received: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="garbage-server")
        self._thread.start()

    def _answer(self, line: str) -> bytes:
        units = [u.strip() for u in line.split(";")]
        if units[0] == "*IDN?" and all(u == "*OPC?" for u in units[1:]):
            if len(units) > 1 and not self.answer_markers:
                return b""
            return ";".join([IDN] + ["1"] * (len(units) - 1)).encode() + b"\n"
        if line == GOOD[0]:
            return GOOD[1]
        return GARBAGE.get(line, b"")

    def _serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(0.05)
            pending = b""
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                *lines, pending = (pending + chunk).split(b"\n")
                for raw in lines:
                    line = raw.decode()
                    self.received.append(line)
                    with contextlib.suppress(OSError):
                        conn.sendall(self._answer(line))

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        self._thread.join(WAIT)
        assert not self._thread.is_alive()


@pytest.fixture
def garbage(no_leaks):
    server = GarbageServer()
    session = ScpiSession(server.resource, timeout_ms=300)
    yield server, session
    session.close()
    server.close()


@pytest.mark.parametrize("command", sorted(GARBAGE))
def test_garbage_is_an_error_naming_resource_and_command_never_a_number(garbage, command):
    server, session = garbage
    assert session.identity.model == "GARBAGE-1"
    with pytest.raises(InstrumentError) as e:
        value = session.query_float(command)
        pytest.fail(f"{command!r} gave the number {value!r}")
    message = str(e.value)
    assert message.startswith(f"{server.resource}: ") and repr(command) in message, message
    if command == "MEAS:PART?":
        assert isinstance(e.value, InstrumentTimeout) and "no answer" in message
    else:
        assert re.search(r"not a number|not SCPI text", message), message
    assert not session.in_step
    # resynced: the next query gets its own answer, whatever the garbage left on the line
    assert session.query_float(GOOD[0]) == GOOD[2]
    assert session.in_step
    assert server.received[-2:] == ["*IDN?;*OPC?", GOOD[0]]


def test_garbage_then_no_resync_says_out_of_step_until_one_succeeds(garbage):
    server, session = garbage
    server.answer_markers = False
    with pytest.raises(InstrumentError, match="not SCPI text"):
        session.query_float("MEAS:BIN?")
    for _ in range(2):
        with pytest.raises(InstrumentError) as e:
            session.query_float(GOOD[0])
        message = str(e.value)
        assert message.startswith(f"{server.resource}: session out of step"), message
        assert "'MEAS:OK?' was not sent" in message
        assert not session.in_step
    assert GOOD[0] not in server.received
    server.answer_markers = True
    assert session.query_float(GOOD[0]) == GOOD[2]
    assert session.in_step


# -- (c) a serial supply answering late ----------------------------------------------------
@contextlib.contextmanager
def fixed_limits():
    """Limits exactly as set, not stretched by the machine's load: for the steps that must
    time out (the delay is beyond the limit, whatever the load)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_FIXED_TIMEOUTS", "1")
        yield


BASE_MS = 500   # the inventory's timeout
DELAY = 0.8     # s the supply takes to answer: beyond BASE_MS, within 3 x BASE_MS
LIMITS = {2: SupplyChannel(max_voltage=13.2, max_current=1.2, voltage=12.0, current_limit=1.0)}
SERIAL_PSU = Instrument(name="psu-late", kind="psu", resource="virtual-asrl:rigol-dp832",
                        channels=LIMITS, serial=SerialSettings(baud_rate=9600),
                        timeout_ms=BASE_MS)


@pytest.fixture
def serial_psu(no_leaks):
    lab = VirtualLab()
    resource = lab.resource(SERIAL_PSU)
    virt = lab.instrument(SERIAL_PSU.name)
    assert resource.startswith("ASRL") and virt is not None
    yield resource, virt
    lab.close()


def test_serial_supply_answering_late_passes_at_factor_3_times_out_at_1(serial_psu):
    resource, virt = serial_psu
    virt.answer_delay = DELAY
    psu = open_instrument(SERIAL_PSU, resource, timeout_factor=3)
    try:
        assert psu.identity.model == "DP832"
        assert abs(psu.measure_voltage(2)) < 0.01  # output off
    finally:
        psu.close()
    with fixed_limits(), pytest.raises(
            InstrumentTimeout,
            match=rf"^{re.escape(resource)}: no answer to '\*IDN\?' within {BASE_MS} ms$"):
        open_instrument(SERIAL_PSU, resource, timeout_factor=1)


def test_serial_supply_late_answer_is_not_taken_for_the_next_one(serial_psu):
    resource, virt = serial_psu
    psu = open_instrument(SERIAL_PSU, resource, timeout_factor=1)
    try:
        psu.apply(2, 5.0, 0.5)
        psu.output(2, True)
        virt.answer_delay = DELAY
        with fixed_limits(), pytest.raises(
                InstrumentTimeout, match=rf"{re.escape(resource)}: no answer to "
                                         rf"':MEAS:VOLT\? CH2' within {BASE_MS} ms"):
            psu.measure_voltage(2)   # its answer, ~5 V, comes after the query gave up
        virt.answer_delay = 0.0
        assert psu.output_on(2)      # "ON", not the late "5.000"
        assert abs(psu.measure_current(2)) < 0.002  # nothing coupled: no load, not 5 A
        assert psu.measure_voltage(2) == pytest.approx(5.0, abs=0.01)
        psu.output(2, False)
    finally:
        psu.close()
