"""pyOCD's own command line through the qemu: probe, untouched: commander, flash, gdbserver
with gdb-multiarch."""

import math
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import patience
from harness.errors import ToolMissing

pytestmark = pytest.mark.targets("qsm-washer")
PYOCD = str(Path(sys.executable).with_name("pyocd"))


def _pyocd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYOCD, *args], capture_output=True, text=True,
                          timeout=patience.limit(120))


def _console(served) -> socket.socket:
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(served.console))
    s.settimeout(5)
    return s


def _read_until(sock: socket.socket, text: bytes) -> bytes:
    buf = b""
    while text not in buf:
        chunk = sock.recv(4096)
        assert chunk, f"console closed before {text!r}; got {buf!r}"
        buf += chunk
    return buf


def test_commander_reg_and_flash_then_boot(served, image):
    r = _pyocd("flash", "-u", served.uid, str(image.path))
    assert r.returncode == 0, r.stderr
    assert re.search(r"programmed \d+ bytes", r.stderr + r.stdout)
    con = _console(served)
    r = _pyocd("commander", "-u", served.uid, "-c", "reset halt", "-c", "reg", "-c", "go")
    assert r.returncode == 0, r.stderr
    reset_pc = image.symbol("Reset_Handler").address & ~1
    assert re.search(rf"pc: 0x{reset_pc:08x}", r.stdout), r.stdout
    assert b"READY" in _read_until(con, b"READY\r\n")
    con.close()


def test_gdbserver_with_gdb_multiarch_load_break_continue(served, image):
    gdb = shutil.which("gdb-multiarch")
    if gdb is None:
        raise ToolMissing("gdb-multiarch", "gdb-multiarch", "the pyOCD gdbserver smoke test")
    server = subprocess.Popen([PYOCD, "gdbserver", "-u", served.uid, "--port", "0",
                               "--telnet-port", "0"], stderr=subprocess.PIPE, text=True)
    try:
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            line = server.stderr.readline()
            assert line, "pyocd gdbserver exited before listening"
            if m := re.search(r"GDB server listening on port (\d+)", line):
                port = int(m.group(1))
        assert port is not None
        con = _console(served)
        r = subprocess.run(
            [gdb, "-batch", "-nx", str(image.path),
                 "-ex", f"set remotetimeout {math.ceil(patience.limit('probe_reply'))}",
                 "-ex", f"target remote 127.0.0.1:{port}",
             "-ex", "load", "-ex", "monitor reset halt", "-ex", "break main",
             "-ex", "continue", "-ex", "info registers pc", "-ex", "delete",
             "-ex", "detach"],
            capture_output=True, text=True, timeout=patience.limit(120), stdin=subprocess.DEVNULL)
        out = r.stdout + r.stderr
        assert "Transfer rate" in out, out  # load went through FileProgrammer
        main = image.symbol("main").address & ~1
        assert re.search(r"Breakpoint 1, (0x\w+ in )?main", out), out
        assert re.search(rf"pc\s+0x{main:x}", out), out
        assert b"READY" in _read_until(con, b"READY\r\n")  # detached: the image runs on
        con.close()
    finally:
        server.terminate()
        server.wait(10)
