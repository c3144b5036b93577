"""Runs inside the simulator: serves the test process's requests, one at a time.

Environment (set by the runner): ``HARNESS_RTL_SOCKET`` (the unix socket the test process
listens on), ``HARNESS_RTL_BLOCK`` (JSON: clock, reset, bus prefix, pins),
``HARNESS_RTL_TIMEOUT`` (seconds of silence after which the simulation gives up: a dead or hung
test process never keeps a simulator alive; 0: never), and for the ``apb_rate`` baseline
``HARNESS_RTL_READS`` (how many of each), ``HARNESS_RTL_OFFSET`` (the register written),
``HARNESS_RTL_RESULT`` (a JSON file).

While the bridge waits for a request the simulator is blocked, so simulated time stands still.
Requests are executed in order, one at a time, whether the client waited for the previous
reply or not (see ``wire`` for posted requests and how a failure skips what follows it).
"""

from __future__ import annotations

import json
import os
import socket
import struct
import time
from dataclasses import dataclass

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from . import wire
from .apb import Apb, SimClock


def _config() -> dict:
    return json.loads(os.environ["HARNESS_RTL_BLOCK"])


async def _start(dut, cfg: dict) -> tuple[SimClock, Apb, list]:
    """Clock running, inputs at their idle values, reset applied; rests after a falling edge."""
    clk = getattr(dut, cfg["clock"]["signal"])
    period = cfg["clock"]["period_ns"]
    Clock(clk, period, unit="ns").start()
    pins = []
    for p in cfg["pins"]:
        handle = getattr(dut, p["signal"])
        if p["direction"] == "in":
            handle.value = p["idle"] or 0
        pins.append((p["name"], handle, p["direction"]))
    clock = SimClock(period)
    apb = Apb(dut, clock, cfg["bus_prefix"])
    await FallingEdge(clk)
    await _reset(dut, cfg, clock, cfg["reset"]["cycles"])
    clock.cycles = 0
    return clock, apb, pins


async def _reset(dut, cfg: dict, clock: SimClock, cycles: int) -> None:
    rst = getattr(dut, cfg["reset"]["signal"])
    active = 0 if cfg["reset"]["active_low"] else 1
    rst.value = active
    await clock.wait(max(cycles, 1))
    rst.value = 1 - active
    await clock.wait(1)


class Server:
    def __init__(self, dut, cfg, clock: SimClock, apb: Apb, pins: list) -> None:
        self.dut, self.cfg, self.clock, self.apb, self.pins = dut, cfg, clock, apb, pins

    def _pin(self, index: int, want: str | None = None):
        if index >= len(self.pins):
            raise ValueError(f"no pin #{index}")
        name, handle, direction = self.pins[index]
        if want == "in" and direction != "in":
            raise ValueError(f"pin {name!r} is an output of the block")
        return handle

    async def handle(self, op: int, pin: int, a: int, b: int, data: bytes):
        """-> (status, value, payload)"""
        if op == wire.READ:
            out = bytearray()
            for i in range(b):
                value, err = await self.apb.read(a + 4 * i)
                if err:
                    return wire.BUS_ERROR, a + 4 * i, b""
                out += value.to_bytes(4, "little")
            return wire.OK, 0, bytes(out)
        if op == wire.WRITE:
            for i in range(b):
                word = int.from_bytes(data[4 * i:4 * i + 4], "little")
                if await self.apb.write(a + 4 * i, word, pin & 0xF):
                    return wire.BUS_ERROR, a + 4 * i, b""
            return wire.OK, 0, b""
        if op == wire.WAIT:
            await self.clock.wait(b)
            return wire.OK, self.clock.cycles, b""
        if op == wire.PIN_GET:
            return wire.OK, int(self._pin(pin).value), b""
        if op == wire.PIN_SET:
            self._pin(pin, "in").value = b
            return wire.OK, 0, b""
        if op == wire.TRACE:
            handles = [self._pin(i) for i in range(32) if a >> i & 1]
            shifts = [i for i in range(32) if a >> i & 1]
            out = bytearray()
            for _ in range(b):
                await self.clock.wait(1)
                word = 0
                for s, h in zip(shifts, handles, strict=True):
                    word |= (int(h.value) & 1) << s
                out += word.to_bytes(4, "little")
            return wire.OK, self.clock.cycles, bytes(out)
        if op == wire.WAIT_PIN:
            h = self._pin(pin)
            for n in range(b + 1):
                if int(h.value) == a:
                    return wire.OK, n, b""
                if n < b:
                    await self.clock.wait(1)
            return wire.TIMEOUT, b, b""
        if op == wire.RESET:
            await _reset(self.dut, self.cfg, self.clock, b)
            return wire.OK, self.clock.cycles, b""
        if op == wire.CYCLE:
            return wire.OK, self.clock.cycles, b""
        raise ValueError(f"unknown op {op}")


READ_OK = struct.Struct(wire.REPLY.format + "I")   # a reply with one word of payload


@dataclass
class _Fault:
    """A failed request; nothing more of its epoch is executed until the client moves on."""

    epoch: int
    status: int
    op: int
    value: int
    payload: bytes
    reported: bool          # its own reply said so (it was not posted)
    skipped: int = 0

    def reply(self) -> bytes:
        """The reply to a skipped request: the failure itself, once; then SKIPPED."""
        if self.reported:
            return wire.REPLY.pack(wire.SKIPPED, 0, 0, 0, 0)
        self.reported = True
        return wire.REPLY.pack(self.status, self.op, min(self.skipped, 0xFFFF), self.value,
                               len(self.payload)) + self.payload


@cocotb.test()
async def serve(dut):
    """Connect to the test process and serve it until FINISH (or it disappears)."""
    cfg = _config()
    clock, apb, pins = await _start(dut, cfg)
    server = Server(dut, cfg, clock, apb, pins)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    timeout = float(os.environ.get("HARNESS_RTL_TIMEOUT", "120"))
    sock.settimeout(timeout if timeout > 0 else None)
    sock.connect(os.environ["HARNESS_RTL_SOCKET"])
    channel = wire.Channel(sock, timeout if timeout > 0 else None)
    fault: _Fault | None = None
    served = 0
    try:
        channel.send(wire.REPLY.pack(wire.OK, 0, 0, clock.cycles, 0))  # hello: ready, cycle 0
        while True:
            try:
                op, pin, flags, a, b = wire.REQUEST.unpack(channel.recv_exact(wire.REQUEST.size))
                data = channel.recv_exact(4 * b) if op == wire.WRITE else b""
            except (ConnectionError, TimeoutError) as exc:
                raise RuntimeError(f"test process lost: {exc}") from None
            served += 1
            posted = flags & wire.POSTED
            epoch = flags >> 8
            if fault is not None and fault.epoch != epoch:
                fault = None                    # the client has seen the failure
            if fault is not None:               # skipped: an earlier request of this epoch failed
                fault.skipped += 1
                if not posted:
                    channel.queue(fault.reply())
                if op != wire.FINISH:
                    continue
            if op == wire.FINISH:
                if fault is None:
                    channel.queue(wire.REPLY.pack(wire.OK, 0, 0, clock.cycles, 0))
                channel.flush()
                dut._log.info(f"bridge: {served} requests served; waits for the test process: "
                              f"{channel.spins} spun, {channel.blocks} blocked, "
                              f"{channel.preempted} spins preempted")
                return
            if op == wire.READ and b == 1:      # the most common request, the short way
                word, err = await apb.read(a)
                if not err:
                    if not posted:
                        channel.queue(READ_OK.pack(wire.OK, 0, 0, 0, 4, word))
                    continue
                status, value, payload = wire.BUS_ERROR, a, b""
            else:
                try:
                    status, value, payload = await server.handle(op, pin, a, b, data)
                except (ValueError, AttributeError, struct.error) as exc:
                    status, value, payload = wire.BAD, 0, str(exc).encode()
            if status in wire.ERRORS:
                fault = _Fault(epoch, status, op, value, payload, reported=not posted)
            if not posted:   # sent when the next request is not here yet: pipelined replies
                channel.queue(wire.REPLY.pack(status, 0, 0, value, len(payload)) + payload)
    finally:
        sock.close()


@cocotb.test()
async def apb_rate(dut):
    """The benchmark's baseline: register reads, then writes, issued inside the simulator."""
    cfg = _config()
    clock, apb, _ = await _start(dut, cfg)
    n = int(os.environ.get("HARNESS_RTL_READS", "2000"))
    offset = int(os.environ.get("HARNESS_RTL_OFFSET", "0"))
    t0 = time.perf_counter()
    for i in range(n):
        await apb.read(4 * (i % 8))
    t1 = time.perf_counter()
    for i in range(n):
        await apb.write(offset, i & 0xFF)
    t2 = time.perf_counter()
    with open(os.environ["HARNESS_RTL_RESULT"], "w") as f:
        json.dump({"ops": n, "read_seconds": t1 - t0, "write_seconds": t2 - t1}, f)
