"""Hooks other harness plugins (instruments, station...) implement to join a DUT's life.

Order for each test that uses ``dut``::

    pytest_harness_power_on(target, slot, item)     # e.g. the slot's supply to nominal voltage
    ... the world boots the chip ...
    pytest_harness_dut_ready(dut, slot, item)       # e.g. record identities, start measuring
    ... the test ...
    pytest_harness_dut_done(dut, slot, item)        # before the DUT is released
    pytest_harness_power_off(target, slot, item)    # always, also after failures

A plugin implements them under these names (pytest only looks at ``pytest_*`` attributes).

``pytest_harness_firmware_variant`` lets a plugin test another build of each firmware (the
coverage plugin: the instrumented build).
"""

from pathlib import Path

import pluggy

hookspec = pluggy.HookspecMarker("pytest")


@hookspec
def pytest_harness_power_on(target, slot: int, item) -> None:
    """Power the slot's DUT before the world boots it."""


@hookspec
def pytest_harness_dut_ready(dut, slot: int, item) -> None:
    """The DUT booted and passed its version check."""


@hookspec
def pytest_harness_dut_done(dut, slot: int, item) -> None:
    """The test finished with the DUT (it is still open)."""


@hookspec
def pytest_harness_power_off(target, slot: int, item) -> None:
    """Remove power from the slot's DUT (called on every exit path)."""


@hookspec(firstresult=True)
def pytest_harness_firmware_variant(build: list[str] | None,
                                    image: Path) -> tuple[list[str] | None, Path] | None:
    """The build command and image path to use instead of an image built by ``build`` at
    ``image`` (absolute); None: that image as it is."""
