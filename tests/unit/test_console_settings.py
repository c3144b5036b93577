"""Per-console settings: line ending, echo, encoding, prompt — the chip side is the other end of
a socketpair playing a REPL (a unit test of the console over a fake chip)."""

import socket
import threading

import pytest
from pydantic import ValidationError

from harness.config import ConsoleSpec
from harness.console import Console
from harness.errors import ConsoleTimeout


def test_newline_names_and_bad_values_are_refused():
    assert ConsoleSpec(uart=0, newline="crlf").newline == "\r\n"
    assert ConsoleSpec(uart=0, newline="CR").newline == "\r"
    assert ConsoleSpec(uart=0, newline="\r").newline == "\r"
    with pytest.raises(ValidationError, match="newline"):
        ConsoleSpec(uart=0, newline="lfcr")
    with pytest.raises(ValidationError, match="unknown text encoding 'klingon'"):
        ConsoleSpec(uart=0, encoding="klingon")
    with pytest.raises(ValidationError, match="(?s)prompt.*not a regular expression"):
        ConsoleSpec(uart=0, prompt="(>")


def _repl(sock: socket.socket, line_end: bytes, encoding: str) -> None:
    """Echoes keys, runs a line on ``line_end`` only, prints a prompt."""
    sock.sendall("tiny ready\r\n> ".encode(encoding))
    line = b""
    while True:
        data = sock.recv(64)
        if not data:
            return
        for b in data:
            ch = bytes((b,))
            if ch == line_end:
                cmd = line.decode(encoding)
                answer = {"hi": "hällo"}.get(cmd, "?")
                sock.sendall(f"\r\n{answer}\r\n> ".encode(encoding))
                line = b""
            elif ch in b"\r\n":
                continue
            else:
                line += ch
                sock.sendall(ch)  # echo


@pytest.fixture
def chip():
    def make(line_end=b"\r", encoding="utf-8"):
        ours, theirs = socket.socketpair()
        threading.Thread(target=_repl, args=(theirs, line_end, encoding), daemon=True).start()
        con = Console(ours, "fake/shell")
        made.append((con, theirs))
        return con

    made: list = []
    yield make
    for con, theirs in made:
        con.close()
        theirs.close()


def test_prompt_is_a_ready_signal_and_ends_each_answer(chip):
    con = chip()
    con.configure(newline="\r", echo=True, prompt="^> ")
    con.expect("^> ", timeout=2, partial=True)  # a prompt: never a finished line
    assert con.command("hi") == "hällo"
    assert con.command("nope") == "?"


def test_lf_to_a_cr_shell_is_a_timeout_not_a_wrong_answer(chip):
    con = chip()
    con.configure(newline="\n", echo=True, prompt="^> ")
    with pytest.raises(ConsoleTimeout, match="fake/shell"):
        con.command("hi", timeout=0.3)


def test_encoding_is_the_targets(chip):
    con = chip(encoding="latin-1")
    con.configure(newline="\r", echo=True, prompt="^> ", encoding="latin-1")
    assert con.command("hi") == "hällo"
