"""Frames between the test process (client) and the simulator (bridge), over a unix socket.

Request: ``<BBHII`` op, pin index (or byte strobes), reserved, a, b; then ``b`` words of data
for WRITE. Reply: ``<BxxxII`` status, value, payload length; then the payload.
Every request gets exactly one reply; the simulator does nothing between requests, so
simulated time moves only inside WAIT, TRACE, WAIT_PIN, RESET and bus transfers.
"""

from __future__ import annotations

import struct
import time

REQUEST = struct.Struct("<BBHII")
REPLY = struct.Struct("<BxxxII")

# ops
READ = 1       # a: byte offset (word aligned), b: words -> payload b*4 bytes
WRITE = 2      # a: byte offset, b: words, pin: byte strobes; payload b*4 bytes follows
WAIT = 3       # b: cycles -> value: cycle counter
PIN_GET = 4    # pin -> value
PIN_SET = 5    # pin, b: value
TRACE = 6      # a: bit mask of pin indices, b: cycles -> payload: one <I per cycle
WAIT_PIN = 7   # pin, a: value, b: max cycles -> value: cycles waited (status TIMEOUT)
RESET = 8      # b: cycles in reset
CYCLE = 9      # -> value: cycle counter
FINISH = 10    # the simulation ends

NAMES = {v: k for k, v in dict(globals()).items() if k.isupper() and isinstance(v, int)
         and k not in ("REQUEST", "REPLY")}

# reply status
OK = 0
BUS_ERROR = 1  # the slave answered PSLVERR
TIMEOUT = 2    # WAIT_PIN: the pin did not reach the value
BAD = 3        # malformed request; payload: utf-8 message


# A request and its reply are a few µs of work each side; what costs is waking a process that
# blocked in recv() on an otherwise idle machine (the CPU's idle exit: tens of µs, twice per
# request). So each side first polls for the answer for a short while, then blocks.
SPIN_SECONDS = 0.0002


def recv_exact(sock, n: int) -> bytes:
    """n bytes from a socket; ConnectionError when the peer closed it first."""
    buf = bytearray()
    timeout = sock.gettimeout()
    deadline = time.perf_counter() + SPIN_SECONDS
    sock.settimeout(0.0)  # (a socket with a timeout polls before every recv: no spinning)
    try:
        while len(buf) < n:
            try:
                chunk = sock.recv(n - len(buf))
            except BlockingIOError:
                if time.perf_counter() > deadline:
                    sock.settimeout(timeout)  # long wait: block (the peer's timeout applies)
                continue
            if not chunk:
                raise ConnectionError(f"peer closed the connection after {len(buf)} of {n} "
                                      "bytes")
            buf += chunk
    finally:
        sock.settimeout(timeout)
    return bytes(buf)
