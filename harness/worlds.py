"""Registry of worlds: what stands for the chip, and which capabilities it offers.

Kept free of heavy imports: the plugin consults it at collection time. A world's ``opener`` is
imported only when a Dut is actually asked for.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class World:
    name: str
    description: str
    capabilities: frozenset[str]
    opener: str  # "module:function"(target, image, *, name, log_dir, timeout_factor, probe)
    #              returning a booted Dut; it must accept and ignore options it does not use

    def open(self, *args, **kwargs):
        module, func = self.opener.split(":")
        return getattr(importlib.import_module(module), func)(*args, **kwargs)


WORLDS: dict[str, World] = {
    "qemu": World(
        "qemu", "QEMU system emulation of the CPU and board, real firmware ELF",
        frozenset({"memory", "symbols", "execution", "registers", "breakpoints", "loader",
                   "console", "channels"}),
        "harness.backends.qemu:open_dut"),
    "pyocd": World(
        "pyocd", "a pyOCD session over a debug probe (qemu:auto: QEMU behind the qemu: probe)",
        frozenset({"memory", "symbols", "execution", "registers", "breakpoints", "loader",
                   "console", "channels"}),
        "harness.backends.pyocd:open_dut"),
    "cocotb": World(
        "cocotb", "QSM peripheral RTL blocks in an HDL simulator, through a lockstep bridge",
        frozenset({"memory", "pins", "cycles"}),
        "harness.backends.cocotb.world:open_dut"),
}


def get(name: str) -> World:
    try:
        return WORLDS[name]
    except KeyError:
        raise KeyError(f"unknown world {name!r}; known: {', '.join(WORLDS)}") from None
