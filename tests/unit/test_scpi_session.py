"""ScpiSession timeouts and resynchronisation, against a scripted instrument behind both of the
session's I/O paths: a loopback TCP socket (pyvisa-py SOCKET resource, read by the session
itself) and a stand-in PyVISA resource (the path of serial and other resources).

The scripted instrument answers in order, like a real one; a query can be held back until the
test releases it, so "the answer came after its query timed out" is an event, not a race.
"""

from __future__ import annotations

import contextlib
import queue
import re
import socket
import threading

import pytest
from pyvisa import constants
from pyvisa.errors import VisaIOError
from pyvisa.resources import MessageBasedResource

from harness.instruments.counter import Counter
from harness.instruments.dmm import Multimeter
from harness.instruments.errors import InstrumentError, InstrumentTimeout
from harness.instruments.scpi import ScpiSession, resource_manager

IDN = "ACME Instruments,FAKE-1,SN0001,1.0"
WAIT = 10.0  # s, the bound on any wait of the scripted instrument


class Scripted:
    """An instrument that answers each line in order; ``hold`` withholds a query's answer
    until its event is set (the answer then arrives late)."""

    def __init__(self, send) -> None:
        self.send = send  # bytes -> None
        self.answers = {"*IDN?": IDN, "*OPC?": "1", "*ESR?": "+0", "FAST?": "+2.500000000E+00",
                        "SLOW?": "+1.500000000E+00", "TEXT?": "hello", "NAN?": "nan",
                        "BIN?": b"\x00\xff\x81"}
        self.hold: dict[str, threading.Event] = {}
        self.mute: set[str] = set()  # commands never answered
        self.after: dict[str, bytes] = {}  # sent once, right after the answer to a line
        self.received: list[str] = []
        self.answered: queue.Queue[str] = queue.Queue()  # lines answered, in order
        self._inbox: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def feed(self, line: str) -> None:
        self._inbox.put(line)

    def _run(self) -> None:
        while (line := self._inbox.get()) is not None:
            self.received.append(line)
            if line in self.mute or any(u in self.mute for u in line.split(";")):
                continue
            if line in self.hold:
                self.hold[line].wait(WAIT)
            # settings (no '?') are taken silently; a query it has no answer for: no answer
            units = [u.strip().lstrip(":") for u in line.split(";")]
            parts = [self.answers.get(u) for u in units if u.partition(" ")[0].endswith("?")]
            if not parts or any(p is None for p in parts):
                continue
            data = b";".join(p if isinstance(p, bytes) else p.encode() for p in parts)
            self.send(data + b"\n" + self.after.pop(line, b""))
            self.answered.put(line)

    def close(self) -> None:
        for ev in self.hold.values():
            ev.set()
        self._inbox.put(None)
        self._thread.join(WAIT)


# -- the socket path: a loopback TCP server -------------------------------------------------
class TcpInstrument:
    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.resource = f"TCPIP::127.0.0.1::{self.listener.getsockname()[1]}::SOCKET"
        self.conn: socket.socket | None = None
        self.script = Scripted(self._send)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _send(self, data: bytes) -> None:
        assert self.conn is not None
        with contextlib.suppress(OSError):
            self.conn.sendall(data)

    def _read(self) -> None:
        self.listener.settimeout(WAIT)
        try:
            self.conn, _ = self.listener.accept()
        except OSError:
            return
        self.conn.settimeout(WAIT)
        pending = b""
        while True:
            try:
                chunk = self.conn.recv(4096)
            except OSError:
                return
            if not chunk:
                return
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                self.script.feed(line.decode())

    def open(self, **kw) -> ScpiSession:
        return ScpiSession(self.resource, rm=resource_manager(), **kw)

    def hang_up(self) -> None:
        assert self.conn is not None
        self.conn.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.script.close()
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.shutdown(socket.SHUT_RDWR)
            self.conn.close()
        self.listener.close()
        self._reader.join(WAIT)


# -- the PyVISA path: a stand-in resource --------------------------------------------------
class FakeResource(MessageBasedResource):
    """What ScpiSession uses of a PyVISA message-based resource (write, read_raw, timeout)."""

    timeout = 2000  # ms (shadows PyVISA's attribute property)

    def __init__(self) -> None:  # no PyVISA session behind it
        self.out: queue.Queue[bytes] = queue.Queue()  # received lines, with their termination
        self.script = Scripted(self._received)
        self.closed = False
        self.written = ""
        self.timeouts: dict[str, int] = {}  # command -> the read timeout its answer had

    def _received(self, data: bytes) -> None:
        for line in data.splitlines(keepends=True):
            self.out.put(line)

    def write(self, message, termination=None, encoding=None):
        self.written = message
        self.script.feed(message)
        return len(message)

    def read_raw(self, size=None):
        self.timeouts[self.written] = self.timeout
        try:
            return self.out.get(timeout=self.timeout / 1000)
        except queue.Empty:
            raise VisaIOError(constants.StatusCode.error_timeout) from None

    def flush(self, mask):
        with contextlib.suppress(queue.Empty):
            while True:
                self.out.get_nowait()

    def close(self) -> None:
        self.closed = True

    def __del__(self) -> None:
        pass


class FakeRM:
    def __init__(self, res: FakeResource) -> None:
        self.res = res

    def open_resource(self, name, **kw):
        self.res.timeout = kw["timeout"]
        return self.res


class VisaInstrument:
    def __init__(self) -> None:
        self.res = FakeResource()
        self.script = self.res.script
        self.resource = "ASRL/dev/fake::INSTR"  # a serial line: checked to be in step at open

    def open(self, **kw) -> ScpiSession:
        return ScpiSession(self.resource, rm=FakeRM(self.res), **kw)

    def close(self) -> None:
        self.script.close()


@pytest.fixture(params=["socket", "visa"])
def inst(request):
    made = TcpInstrument() if request.param == "socket" else VisaInstrument()
    yield made
    made.close()


def _late_answer(inst, command: str) -> None:
    """Release the held answer to ``command`` and wait until the instrument sent it."""
    inst.script.hold[command].set()
    while inst.script.answered.get(timeout=WAIT) != command:
        pass


@pytest.mark.parametrize("late", ["before", "while"])
def test_next_query_gets_its_own_answer_not_the_late_one(inst, late):
    """The late answer arrives before the next query is sent, or while it waits."""
    s = inst.open(timeout_ms=400)
    inst.script.hold["SLOW?"] = threading.Event()
    with pytest.raises(InstrumentTimeout, match=rf"{re.escape(inst.resource)}: no answer to "
                                                rf"'SLOW\?' within 400 ms"):
        s.query_float("SLOW?")
    assert not s.in_step
    if late == "before":
        _late_answer(inst, "SLOW?")             # 1.5 arrives now, after its query gave up
        release = None
    else:                                       # ... or once FAST? waits for its answer
        release = threading.Timer(0.2, inst.script.hold["SLOW?"].set)
        release.start()
    assert s.query_float("FAST?") == 2.5        # FAST?'s own answer, not the late 1.5
    assert s.in_step
    assert s.query_float("SLOW?") == 1.5        # and every answer after it is its own
    assert inst.script.received[-3:] == ["*IDN?;*OPC?", "FAST?", "SLOW?"]
    if release is not None:
        release.join(WAIT)
    s.close()


def test_a_late_idn_does_not_pass_for_the_resync_marker(inst):
    s = inst.open(timeout_ms=150)
    inst.script.hold["*IDN?"] = threading.Event()
    with pytest.raises(InstrumentTimeout):
        s.query("*IDN?")
    _late_answer(inst, "*IDN?")
    assert s.query("TEXT?") == "hello"
    s.close()


def test_timeouts_scale_with_the_factor(inst):
    s = inst.open(timeout_ms=100, timeout_factor=3)
    assert s.limit_ms() == 300 and s.limit_ms(1000) == 3000
    inst.script.mute.add("SLOW?")
    with pytest.raises(InstrumentTimeout,
                       match=r"'SLOW\?' within 300 ms \(timeout factor 3, machine load x1\)"):
        s.query("SLOW?")
    s.close()
    with pytest.raises(ValueError, match="timeout_factor"):
        inst.open(timeout_factor=0)


def test_no_resync_is_out_of_step_and_stays_stale_until_one_succeeds(inst):
    s = inst.open(timeout_ms=100)
    inst.script.mute.update({"SLOW?", "*OPC?"})  # the marker goes unanswered too
    with pytest.raises(InstrumentTimeout):
        s.query("SLOW?")
    for _ in range(2):
        with pytest.raises(InstrumentError, match=rf"{re.escape(inst.resource)}: session out "
                                                  rf"of step \('SLOW\?' timed out\).*"
                                                  rf"'FAST\?' was not sent") as e:
            s.query("FAST?")
        assert not isinstance(e.value, InstrumentTimeout)
        assert not s.in_step
    assert "FAST?" not in inst.script.received
    inst.script.mute.clear()
    assert s.query_float("FAST?") == 2.5
    # the markers that went unanswered were not the one that ended the resync
    assert inst.script.received[-2:] == ["*IDN?;*OPC?;*OPC?;*OPC?", "FAST?"]
    s.close()


def test_an_old_markers_late_answer_does_not_end_a_later_resync(inst):
    s = inst.open(timeout_ms=100)
    inst.script.mute.add("SLOW?")
    inst.script.hold["*IDN?;*OPC?"] = threading.Event()
    with pytest.raises(InstrumentTimeout):
        s.query("SLOW?")
    with pytest.raises(InstrumentError, match="out of step"):
        s.query("FAST?")
    _late_answer(inst, "*IDN?;*OPC?")  # the first marker's answer comes late
    assert s.query("TEXT?") == "hello"
    s.close()


@pytest.mark.parametrize("command, what", [
    ("NAN?", r"answered 'nan', not a number"),
    ("TEXT?", r"answered 'hello', not a number"),
    ("BIN?", r"answered b'\\x00\\xff\\x81', not SCPI text"),
])
def test_garbage_is_an_error_naming_command_and_the_session_resyncs(inst, command, what):
    s = inst.open(timeout_ms=500)
    with pytest.raises(InstrumentError,
                       match=rf"{re.escape(inst.resource)}: '{re.escape(command)}' {what}"):
        s.query_float(command)
    assert s.query_float("FAST?") == 2.5
    s.close()


def test_closed_connection_is_reported_at_once_and_after():
    inst = TcpInstrument()
    try:
        s = inst.open(timeout_ms=5000)
        inst.script.mute.add("SLOW?")
        threading.Timer(0.1, inst.hang_up).start()
        with pytest.raises(InstrumentError, match=rf"{re.escape(inst.resource)}: the "
                                                  rf"instrument closed the connection; "
                                                  rf"'SLOW\?' not answered"):
            s.query("SLOW?")
        with pytest.raises(InstrumentError, match="closed the connection; cannot send"):
            s.query("FAST?")
        s.close()
    finally:
        inst.close()


def test_serial_line_is_checked_to_be_in_step_at_open():
    inst = VisaInstrument()
    try:
        inst.res.out.put(b"+8.8E+00\n")  # left unread by an earlier session: flushed
        inst.script.after["*IDN?"] = b"+9.9E+00\n"  # an earlier session's late answer
        s = inst.open(timeout_ms=500)
        assert inst.script.received == ["*IDN?", "*IDN?;*OPC?"]
        assert s.query_float("FAST?") == 2.5
        s.close()
        assert inst.res.closed
    finally:
        inst.close()


def test_driver_budgets_scale_with_the_factor():
    inst = VisaInstrument()
    inst.script.answers.update({"READ?": "+1.000000000E+00", "SYST:ERR?": '+0,"No error"',
                                "MEAS:FREQ? (@1)": "+1.000000000E+03"})
    try:
        s = inst.open(timeout_ms=100, timeout_factor=2)
        assert inst.res.timeouts["*IDN?"] == 200
        assert Multimeter(s).dc_voltage(nplc=10) == 1.0
        assert inst.res.timeouts["READ?"] == 2 * (100 + 200)  # + 10 power-line cycles
        assert Counter(s).frequency(1, gate=0.5) == 1000.0
        assert inst.res.timeouts["MEAS:FREQ? (@1)"] == 2 * (100 + 4000 * 0.5)
        s.close()
    finally:
        inst.close()
