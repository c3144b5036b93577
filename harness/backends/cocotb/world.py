"""The cocotb world's entry in ``harness.worlds``.

A firmware target (``targets/*.yaml``) describes a chip with firmware and consoles; an RTL
block has neither, so the cocotb world is reached through its own fixtures (``rtl``,
``rtl_factory``, see ``pytest_plugin``) rather than through ``dut``. Asked for a chip's Dut,
the opener says so and names the way in instead of faking one.
"""

from __future__ import annotations

from ...errors import HarnessError


def open_dut(target, image=None, **_options):
    raise HarnessError(
        f"target {getattr(target, 'name', target)!r}: the cocotb world simulates RTL blocks, "
        "not firmware targets; use the `rtl` fixture with @pytest.mark.rtl_block(<name>) or "
        "`rtl_factory(<name>)` (blocks: firmware/rtl/blocks.yaml)")
