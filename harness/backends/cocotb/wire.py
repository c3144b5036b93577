"""Frames between the test process (client) and the simulator (bridge), over a unix socket.

Request: ``<BBHII`` op, pin index (or byte strobes), flags, a, b; then ``b`` words of data for
WRITE. Flags: bit 0 POSTED (no reply), bits 8..15 the client's error epoch.
Reply: ``<BBHII`` status, the op of a failed posted request (0: the status is this request's
own), how many requests were skipped after that failure, value, payload length; then the payload.

Every request that is not POSTED gets exactly one reply, in order; a posted request (a write,
a pin drive) gets none. The simulator does nothing between requests, so simulated time moves
only inside WAIT, TRACE, WAIT_PIN, RESET and bus transfers, whatever the client batches.

Errors: when a request fails (BUS_ERROR, BAD), the bridge executes nothing more of the same
epoch: later requests are skipped, as if the test had stopped at the failing call. The next
reply of that epoch carries the failure (for a posted request: with its op and the number of
requests skipped); the client then moves to the next epoch, and the bridge serves again.
"""

from __future__ import annotations

import os
import socket
import struct
import time

REQUEST = struct.Struct("<BBHII")
REPLY = struct.Struct("<BBHII")

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
FINISH = 10    # the simulation ends (its reply carries a posted failure nobody collected yet)

NAMES = {v: k for k, v in dict(globals()).items() if k.isupper() and isinstance(v, int)
         and k not in ("REQUEST", "REPLY")}

# request flags
POSTED = 1     # no reply; a failure is reported by the next reply


def flags(epoch: int, posted: bool = False) -> int:
    return (epoch & 0xFF) << 8 | (POSTED if posted else 0)


# reply status
OK = 0
BUS_ERROR = 1  # the slave answered PSLVERR; value: the block offset
TIMEOUT = 2    # WAIT_PIN: the pin did not reach the value
BAD = 3        # malformed request; payload: utf-8 message
SKIPPED = 4    # not executed: an earlier request of this epoch failed (and was reported)

ERRORS = (BUS_ERROR, BAD)


# Waiting for the peer. A request and its reply are a few µs of work each side; what costs on an
# idle machine is waking a process blocked in recv() (the CPU's idle exit: tens of µs, twice per
# request), so a side first polls the socket for up to SPIN_SECONDS. That only pays while both
# sides own a CPU: when another process wants a CPU too, a spinning side takes the time its
# peer needs to answer, and blocking (a direct hand-over between the two) is much faster. So:
# - a side spins only while the machine has no more runnable tasks than CPUs (the peer, which
#   is working on what this side waits for, included), sampled every LOAD_SECONDS;
# - a spin that finds itself descheduled (a gap of PREEMPTED_SECONDS between two polls) stops
#   at once, and the side blocks without spinning for the next waits, twice as many each time
#   it happens again, until a spin succeeds.
SPIN_SECONDS = 0.0002
PREEMPTED_SECONDS = 0.00003
BACKOFF_WAITS = (16, 4096)   # waits without spinning after a preempted spin: first, most
LOAD_SECONDS = 0.005
CHUNK = 1 << 16


class _Cpus:
    """Whether the machine is crowded: more runnable tasks than CPUs (``/proc/loadavg``)."""

    def __init__(self) -> None:
        self.n = os.cpu_count() or 1
        try:
            self.fd: int | None = os.open("/proc/loadavg", os.O_RDONLY)
        except OSError:   # not Linux: rely on the preemption check alone
            self.fd = None
        self.next = 0.0
        self.value = False

    def crowded(self, now: float) -> bool:
        if now < self.next or self.fd is None:
            return self.value
        self.next = now + LOAD_SECONDS
        try:   # "0.52 0.58 0.59 3/245 1234": the 4th field counts the runnable tasks
            running = int(os.pread(self.fd, 128, 0).split()[3].split(b"/")[0])
        except (OSError, ValueError, IndexError):
            running = 0
        self.value = running > self.n
        return self.value


CPUS = _Cpus()


class Channel:
    """A connected stream socket: exact reads and whole writes, an idle timeout (seconds; None:
    wait for ever) after which a read or write raises TimeoutError, spinning when it pays.

    The socket stays in blocking mode with the timeout set in the kernel (SO_RCVTIMEO,
    SO_SNDTIMEO): a wait is one recv() call, and a spin polls with MSG_DONTWAIT."""

    def __init__(self, sock: socket.socket, timeout: float | None,
                 spin: float = SPIN_SECONDS) -> None:
        self.sock = sock
        self.timeout = timeout
        self.spin = spin
        sock.settimeout(None)
        if timeout is not None:
            sec = int(timeout)
            usec = int((timeout - sec) * 1e6) or (0 if sec else 1)   # (0, 0): no timeout
            tv = struct.pack("ll", sec, usec)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
        self._buf = bytearray()               # received, not consumed yet
        self._out = bytearray()               # queued, not sent yet
        self._pause = 0                       # waits left without spinning
        self._backoff = BACKOFF_WAITS[0]
        self.spins = self.blocks = self.preempted = 0   # statistics

    def queue(self, data: bytes | bytearray) -> None:
        """Send ``data`` before this side next waits for the peer (or ``flush()``)."""
        self._out += data

    def flush(self) -> None:
        if self._out:
            out, self._out = self._out, bytearray()
            self.send(out)

    def send(self, data: bytes | bytearray) -> None:
        """Send ``data`` (after anything queued) now."""
        if self._out:
            data, self._out = self._out + data, bytearray()
        try:
            self.sock.sendall(data)
        except BlockingIOError:
            raise TimeoutError(f"the peer read nothing for {self.timeout:g} s") from None

    def recv_exact(self, n: int, spin: bool = True) -> bytes:
        """n bytes; ConnectionError when the peer closed the connection first. ``spin=False``
        when the answer is known to take long (simulated time passing)."""
        buf = self._buf
        if len(buf) < n and self._out:
            self.flush()                       # the peer may be waiting for it
        while len(buf) < n:
            chunk = self._spin() if spin and self._may_spin() else None
            if chunk is None:
                self.blocks += 1
                try:
                    chunk = self.sock.recv(CHUNK)
                except BlockingIOError:
                    raise TimeoutError(f"nothing received for {self.timeout:g} s") from None
            if not chunk:
                raise ConnectionError(f"peer closed the connection after {len(buf)} of {n} "
                                      "bytes")
            buf += chunk
        out = bytes(buf[:n])
        del buf[:n]
        return out

    def _may_spin(self) -> bool:
        if self.spin <= 0 or CPUS.crowded(time.perf_counter()):
            return False
        if self._pause:
            self._pause -= 1
            return False
        return True

    def _spin(self) -> bytes | None:
        """Poll for up to ``spin`` seconds: what arrived, or None."""
        self.spins += 1
        recv, clock = self.sock.recv, time.perf_counter
        last = clock()
        deadline = last + self.spin
        while True:
            try:
                chunk = recv(CHUNK, socket.MSG_DONTWAIT)
            except BlockingIOError:
                now = clock()
                if now - last > PREEMPTED_SECONDS:   # descheduled: the CPU is wanted elsewhere
                    self.preempted += 1
                    self._pause = self._backoff
                    self._backoff = min(2 * self._backoff, BACKOFF_WAITS[1])
                    return None
                if now > deadline:
                    return None
                last = now
                continue
            self._backoff = BACKOFF_WAITS[0]
            return chunk

    def close(self) -> None:
        self.sock.close()
