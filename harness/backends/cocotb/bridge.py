"""Runs inside the simulator: serves the test process's requests, one at a time.

Environment (set by the runner): ``HARNESS_RTL_SOCKET`` (the unix socket the test process
listens on), ``HARNESS_RTL_BLOCK`` (JSON: clock, reset, bus prefix, pins),
``HARNESS_RTL_TIMEOUT`` (seconds of silence after which the simulation gives up: a dead or hung
test process never keeps a simulator alive), ``HARNESS_RTL_READS`` (for ``apb_read_rate``).

While the bridge waits for a request the simulator is blocked, so simulated time stands still.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import time

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


@cocotb.test()
async def serve(dut):
    """Connect to the test process and serve it until FINISH (or it disappears)."""
    cfg = _config()
    clock, apb, pins = await _start(dut, cfg)
    server = Server(dut, cfg, clock, apb, pins)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(float(os.environ.get("HARNESS_RTL_TIMEOUT", "120")))
    sock.connect(os.environ["HARNESS_RTL_SOCKET"])
    try:
        sock.sendall(wire.REPLY.pack(wire.OK, clock.cycles, 0))  # hello: ready, at cycle 0
        while True:
            try:
                op, pin, _, a, b = wire.REQUEST.unpack(wire.recv_exact(sock, wire.REQUEST.size))
                data = wire.recv_exact(sock, 4 * b) if op == wire.WRITE else b""
            except (ConnectionError, TimeoutError) as exc:
                raise RuntimeError(f"test process lost: {exc}") from None
            if op == wire.FINISH:
                sock.sendall(wire.REPLY.pack(wire.OK, clock.cycles, 0))
                return
            try:
                status, value, payload = await server.handle(op, pin, a, b, data)
            except (ValueError, AttributeError, struct.error) as exc:
                status, value, payload = wire.BAD, 0, str(exc).encode()
            sock.sendall(wire.REPLY.pack(status, value, len(payload)) + payload)
    finally:
        sock.close()


@cocotb.test()
async def apb_read_rate(dut):
    """The benchmark's baseline: register reads issued inside the simulator, no bridge."""
    cfg = _config()
    clock, apb, _ = await _start(dut, cfg)
    n = int(os.environ.get("HARNESS_RTL_READS", "2000"))
    t0 = time.perf_counter()
    for i in range(n):
        await apb.read(4 * (i % 8))
    elapsed = time.perf_counter() - t0
    with open(os.environ["HARNESS_RTL_RESULT"], "w") as f:
        json.dump({"reads": n, "seconds": elapsed}, f)
