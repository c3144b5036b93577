"""The TV's acceptance suite: world-agnostic, written against the Dut, its shell and CEC link.

IR frames go in the way a HIL bench replays captured remote-control timings: by writing the
firmware's ``stimulus.ir`` capture block through debug memory access (tests needing it are
marked ``requires("symbols")``).
"""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.targets("qsm-tv")

REMOTE = 0x04
KEYS = {"CH_UP": 0x00, "CH_DOWN": 0x01, "VOL_UP": 0x02, "VOL_DOWN": 0x03, "POWER": 0x08,
        "MUTE": 0x09, "INPUT": 0x0B}
REPEAT = [9000, 2250, 563]


def nec_frame(address: int, command: int) -> list[int]:
    """Nominal NEC timings (us, mark first) for an 8-bit address and command."""
    raw = address | (address ^ 0xFF) << 8 | command << 16 | (command ^ 0xFF) << 24
    out = [9000, 4500]
    for bit in range(32):
        out += [563, 1688 if raw >> bit & 1 else 563]
    return out + [563]


def _value(v: str):
    return int(v) if v.lstrip("-").isdigit() else v


class Tv:
    """Test-side view of the QSM-T controller."""

    def __init__(self, dut) -> None:
        self.dut = dut

    def status(self) -> dict:
        return {k: _value(v) for k, v in
                (kv.split("=", 1) for kv in self.dut.command("status").split())}

    def power_on(self) -> None:
        m = self.dut.console.mark()
        assert self.dut.command("power on") == "power BOOTING"
        self.dut.console.expect(r"^EVT power ON$", timeout=2.0, since=m)

    @property
    def outputs(self) -> dict:
        return self.dut.symbols["outputs"]

    def ir(self, pulses: list[int], gap_us: int = 200_000) -> str:
        """Replay one capture; returns the ``EVT ir ...`` line it produced."""
        seq = self.dut.symbols["stimulus.ir.seq"] + 1
        m = self.dut.console.mark()
        padded = list(pulses[:80]) + [0] * (80 - len(pulses[:80]))
        self.dut.symbols["stimulus.ir.us"] = padded
        self.dut.symbols.update("stimulus.ir", count=len(pulses), gap_us=gap_us)
        self.dut.symbols["stimulus.ir.seq"] = seq
        # ir_status.seq is the chip's acknowledgement, written after the capture was decoded,
        # acted on and reported: wait for it, not for the line (printed just before it)
        deadline = time.monotonic() + 2.0 * self.dut.timeout_factor
        while self.dut.symbols["ir_status.seq"] != seq:
            assert time.monotonic() < deadline, f"capture {seq} never acknowledged"
            time.sleep(0.002)
        return self.dut.console.expect(r"^EVT ir .*$", timeout=2.0, since=m).group(0)

    def key(self, name: str) -> str:
        return self.ir(nec_frame(REMOTE, KEYS[name]))


@pytest.fixture
def tv(dut) -> Tv:
    return Tv(dut)


@pytest.fixture
def cec(dut):
    """The HDMI-CEC-like link (second UART) as a console; skipped where the bench lacks it."""
    con = dut.consoles.get("cec")
    if con is None:
        pytest.skip(f"the {dut.world} world has no 'cec' console for {dut.name}")
    return con
