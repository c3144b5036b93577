"""An APB4 master inside the simulator (cocotb coroutines), and lockstep time.

The bridge rests half a clock period after a rising edge: signals written there are seen by
the next rising edge and values read there are settled. Time advances with ``Timer`` in whole
clock periods, so no Python runs for clock edges the test did not ask about.
"""

from __future__ import annotations

from cocotb.triggers import Timer


class SimClock:
    def __init__(self, period_ns: int) -> None:
        self.period_ns = period_ns
        self.cycles = 0
        self._one = Timer(period_ns, unit="ns")

    async def wait(self, n: int = 1) -> None:
        if n <= 0:
            return
        await (self._one if n == 1 else Timer(n * self.period_ns, unit="ns"))
        self.cycles += n


class Apb:
    """Transfers of one APB4 slave whose ports are named ``<prefix>sel``, ``<prefix>addr``..."""

    def __init__(self, dut, clock: SimClock, prefix: str = "p") -> None:
        self.clock = clock
        s = {n: getattr(dut, prefix + n) for n in
             ("sel", "enable", "write", "addr", "wdata", "strb", "rdata", "ready", "slverr")}
        self.sel, self.enable, self.write_, self.addr = s["sel"], s["enable"], s["write"], s["addr"]
        self.wdata, self.strb, self.rdata = s["wdata"], s["strb"], s["rdata"]
        self.ready, self.slverr = s["ready"], s["slverr"]
        self.sel.value = 0
        self.enable.value = 0

    async def _transfer(self) -> bool:
        await self.clock.wait()            # setup phase sampled
        self.enable.value = 1
        await self.clock.wait()            # access phase sampled
        while not self.ready.value:
            await self.clock.wait()
        err = bool(self.slverr.value)
        self.sel.value = 0
        self.enable.value = 0
        return err

    async def read(self, offset: int) -> tuple[int, bool]:
        self.sel.value = 1
        self.write_.value = 0
        self.addr.value = offset
        err = await self._transfer()
        return int(self.rdata.value), err

    async def write(self, offset: int, value: int, strobes: int = 0xF) -> bool:
        self.sel.value = 1
        self.write_.value = 1
        self.addr.value = offset
        self.wdata.value = value
        self.strb.value = strobes
        return await self._transfer()
