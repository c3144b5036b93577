"""pytest wiring for diagnostics: ``can_channel``, ``can_bus``, ``can_monitor``, ``uds`` and
``uds_factory``.

The chip's CAN channel is its SLCAN link: in the qemu world the DUT's raw ``can`` UART
(``dut.channels["can"]``, a loopback socket to QEMU's serial chardev); on a bench a USB SLCAN
adapter given with ``--can-channel``. Only pytest is imported at start-up; python-can,
can-isotp and udsoncan load when a test asks for a bus.
"""

from __future__ import annotations

import pytest

CHANNEL_NAME = "can"


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("harness-diag", "QSM Harness diagnostics (CAN / UDS)")
    g.addoption("--can-channel", default=None, metavar="URL",
                help="SLCAN channel of the DUT on a bench (serial device or pyserial URL); "
                     "default: the DUT's own 'can' channel (emulated chips)")


@pytest.fixture
def can_channel(request: pytest.FixtureRequest, dut) -> str:
    """Where the DUT's CAN bus is reachable, as a pyserial URL; skips when nowhere."""
    opt = request.config.getoption("can_channel")
    if opt:
        return opt
    url = dut.channels.get(CHANNEL_NAME)
    if url is None:
        pytest.skip(f"{dut.name} in the {dut.world} world has no {CHANNEL_NAME!r} channel "
                    f"(name the slot's USB SLCAN adapter under its probe's 'channels' in the "
                    f"bench inventory, or give --can-channel)")
    return url


@pytest.fixture
def diag_profile(dut):
    """The tester's knowledge of the DUT: CAN ids, DIDs, security algorithm."""
    from .profiles import profile_for

    return profile_for(dut.target.name)


@pytest.fixture
def can_bus(can_channel, diag_profile, dut):
    """A python-can bus (``slcan`` interface) on the DUT's CAN channel, shut down afterwards."""
    from .slcan import open_slcan, quiesce

    bus = open_slcan(can_channel, bitrate=diag_profile.bitrate)
    try:
        yield bus
    finally:
        # nothing of ours left unread for the chip's next boot (warm pool): a chip the test
        # left halted (on chip time, between its steps) runs to read it
        if dut.has("execution") and dut.execution.is_halted:
            dut.execution.resume()
        quiesce(bus)
        bus.shutdown()


@pytest.fixture
def can_notifier(can_bus):
    """The bus's one receive thread; UDS clients and monitors attach listeners to it."""
    import can

    notifier = can.Notifier(can_bus, [], timeout=0.05)
    try:
        yield notifier
    finally:
        notifier.stop(timeout=1.0)


@pytest.fixture
def can_monitor(can_bus, can_notifier, dut):
    """Received frames by id (``wait_for``, ``frames``) and ``send`` for plain frames."""
    from .monitor import FrameMonitor

    mon = FrameMonitor(can_bus, can_notifier, dut.timeout_factor)
    try:
        yield mon
    finally:
        mon.close()


@pytest.fixture
def uds_factory(can_bus, can_notifier, diag_profile, dut):
    """Open more UDS clients on the bus: ``uds_factory(functional=True)``; all closed after."""
    from .client import UdsLink

    links = []

    def open_(functional: bool = False):
        link = UdsLink(can_bus, diag_profile, dut.timeout_factor, functional=functional,
                       notifier=can_notifier)
        client = link.open()
        links.append(link)
        return client

    yield open_
    for link in reversed(links):
        link.close()


@pytest.fixture
def uds(uds_factory):
    """A udsoncan Client talking to the DUT over ISO-TP (physical addressing)."""
    return uds_factory()
