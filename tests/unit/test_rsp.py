import socket
import threading

import pytest

from harness.emu.rsp import RspClient, StopReply, parse_target_xml
from harness.emu.rsp_wire import RspConnection, checksum, decode, escape, frame
from harness.errors import DutLost, ProtocolError


def test_checksum_and_frame():
    assert checksum(b"OK") == (ord("O") + ord("K")) & 0xFF
    assert frame(b"m0,4") == b"$m0,4#fd"
    assert frame(b"") == b"$#00"


@pytest.mark.parametrize("raw", [b"plain", b"#$}*", b"a}b#c$d*e", bytes(range(256))])
def test_escape_roundtrip(raw):
    esc = escape(raw)
    assert not any(c in b"#$*" for c in esc.replace(b"}" + bytes((ord("#") ^ 0x20,)), b""))
    assert decode(esc) == raw


def test_escape_uses_xor_0x20():
    assert escape(b"#") == b"}\x03"
    assert escape(b"}") == b"}]"


def test_run_length_decoding():
    # "0* " = '0' then ' ' (32) - 29 = 3 more repeats
    assert decode(b"0* ") == b"0000"
    assert decode(b"ab*!c") == b"ab" + b"b" * 4 + b"c"


def test_stop_reply_parse():
    s = StopReply.parse(b"T05thread:p01.01;hwbreak:;")
    assert s.signal == 5 and s.reason == "trap" and s.info["thread"] == "p01.01"
    assert StopReply.parse(b"T02thread:01;").reason == "interrupt"
    assert StopReply.parse(b"W00").reason == "exited"
    with pytest.raises(ProtocolError):
        StopReply.parse(b"OK")


def test_target_xml_numbering_follows_includes_and_regnum():
    docs = {
        "target.xml": '<target><xi:include href="core.xml"/><xi:include href="m.xml"/></target>',
        "core.xml": '<feature><reg name="r0" bitsize="32"/><reg name="r1" bitsize="32"/>'
                    '<reg name="PC" bitsize="32" type="code_ptr"/></feature>',
        "m.xml": '<feature><reg name="xpsr" bitsize="32" regnum="25"/>'
                 '<reg name="after" bitsize="32"/></feature>',
    }
    regs = {r.name: r.regnum for r in parse_target_xml(docs)}
    assert regs == {"r0": 0, "r1": 1, "pc": 2, "xpsr": 25, "after": 26}


class FakeStub:
    """The peer side of a socket pair, scripted per test (a unit test's fake of the wire)."""

    def __init__(self):
        self.ours, self.theirs = socket.socketpair()
        self.received: list[bytes] = []

    def read_packet(self) -> bytes:
        buf = b""
        while not (b"#" in buf and len(buf) >= buf.index(b"#") + 3):
            c = self.theirs.recv(1)
            if c in (b"+", b"-") and not buf:
                continue
            buf += c
        body = buf[buf.index(b"$") + 1:buf.index(b"#")]
        self.received.append(body)
        return body


def test_send_retransmits_after_nack():
    stub = FakeStub()
    conn = RspConnection(stub.ours, timeout=2)

    def peer():
        stub.read_packet()
        stub.theirs.sendall(b"-")
        stub.read_packet()
        stub.theirs.sendall(b"+" + frame(b"OK"))

    t = threading.Thread(target=peer)
    t.start()
    assert conn.transact(b"Hg0") == b"OK"
    t.join()
    assert stub.received == [b"Hg0", b"Hg0"]
    assert stub.theirs.recv(1) == b"+"  # we acknowledged the reply


def test_bad_checksum_from_peer_is_nacked_and_dropped():
    stub = FakeStub()
    conn = RspConnection(stub.ours, timeout=2)
    stub.theirs.sendall(b"$OK#00" + frame(b"T05"))
    assert conn.recv_packet() == b"T05"
    assert stub.theirs.recv(2) == b"-+"


def test_timeout_and_lost_peer():
    stub = FakeStub()
    conn = RspConnection(stub.ours, timeout=0.05)
    with pytest.raises(ProtocolError, match="no reply"):
        conn.recv_packet()
    stub.theirs.close()
    with pytest.raises(DutLost, match="closed"):
        conn.recv_packet()


def test_client_reads_memory_in_chunks_and_pauses_running_target():
    stub = FakeStub()
    client = RspClient(RspConnection(stub.ours, timeout=2))
    memory = bytes(range(256)) * 12  # 3072 bytes: two 'm' packets

    def peer():
        assert stub.read_packet() == b"c"  # the target runs
        stub.theirs.sendall(b"+")
        assert stub.theirs.recv(1) == b"\x03"
        stub.theirs.sendall(frame(b"T02thread:01;"))
        for _ in range(2):
            body = stub.read_packet().decode()
            addr, n = (int(x, 16) for x in body[1:].split(","))
            chunk = memory[addr - 0x1000:addr - 0x1000 + n]
            stub.theirs.sendall(b"+" + frame(chunk.hex().encode()))
        assert stub.read_packet() == b"c"
        stub.theirs.sendall(b"+")

    t = threading.Thread(target=peer)
    t.start()
    client.cont()
    assert client.running
    assert client.read_memory(0x1000, len(memory)) == memory
    t.join()
    assert [p[:1] for p in stub.received] == [b"c", b"m", b"m", b"c"]
    assert client.running


def test_client_reports_memory_error():
    stub = FakeStub()
    client = RspClient(RspConnection(stub.ours, timeout=2))

    def peer():
        stub.read_packet()
        stub.theirs.sendall(b"+" + frame(b"E14"))

    t = threading.Thread(target=peer)
    t.start()
    with pytest.raises(ProtocolError, match="0xdead0000"):
        client.read_memory(0xDEAD0000, 4)
    t.join()


def test_a_step_that_never_ends_is_halted_again_and_said():
    """A stub whose step never ends (it keeps the target running and drops all but ^C): the
    step fails within the wait, the core is halted again, and the next command works."""
    stub = FakeStub()
    client = RspClient(RspConnection(stub.ours, timeout=0.2))

    def peer():
        assert stub.read_packet() == b"s"
        stub.theirs.sendall(b"+")
        assert stub.theirs.recv(1) == b"\x03"
        stub.theirs.sendall(frame(b"T02thread:01;"))
        assert stub.read_packet() == b"p0"
        stub.theirs.sendall(b"+" + frame(b"78563412"))

    t = threading.Thread(target=peer)
    t.start()
    client.registers = {r.name: r for r in parse_target_xml(
        {"target.xml": '<feature><reg name="r0" bitsize="32"/></feature>'})}
    with pytest.raises(ProtocolError, match="single step did not end"):
        client.step()
    assert not client.running
    assert client.read_register("r0") == 0x12345678
    t.join()
