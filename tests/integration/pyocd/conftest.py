"""pyOCD integration: real QEMU behind the qemu: probe, driven by real pyOCD.

These tests open the pyocd world themselves (whatever ``--world`` says): what they prove is that
pyOCD's session, CortexM core, breakpoints and FileProgrammer work through the probe.
"""

from __future__ import annotations

import pytest

from harness.backends.pyocd import open_dut
from harness.probes import launch


@pytest.fixture
def image(target, harness_manager):
    return harness_manager.image(target)


@pytest.fixture
def pdut(target, image, harness_manager, request):
    """A booted washer in the pyocd world (qemu:auto), closed at the end."""
    log_dir = harness_manager.settings.results / "logs" / "pyocd"
    d = open_dut(target, image, name=f"pyocd-{request.node.name}"[:60], log_dir=log_dir,
                 probe="qemu:auto")
    yield d
    d.close()


@pytest.fixture
def served(target):
    """A QEMU serving its gdbstub and UART on unix sockets, for pyOCD's command line."""
    s = launch.serve(target.qemu.machine)
    yield s
    s.close()
