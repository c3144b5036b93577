"""What every pool proves before it hands a chip out again, whatever stands for the chip.

:class:`NotClean` is how a clean-up step says "discard this one" (a fresh chip is always
correct, only slower); :func:`reset_vectors` is where a reset must land; :func:`settle_console`
checks that nothing is in flight on a console's socket and clears its buffer.
"""

from __future__ import annotations

import socket
import struct

from ..config import Target
from ..console import Console
from ..emu.sockets import unread_by_peer, wait_read_here
from ..errors import HarnessError
from ..firmware import FirmwareImage


class NotClean(HarnessError):
    """The chip could not be proven to be at power-on state."""


def reset_vectors(image: FirmwareImage, target: Target) -> tuple[int, int]:
    """Initial sp and pc from the image's vector table: at 0, or at the start of the first
    flash region (STM32: flash at 0x08000000, aliased at 0 for boot)."""
    base = 0 if any(s.address == 0 for s in image.segments) else target.region("flash")[0].start
    sp, pc = struct.unpack("<II", image.read_static(base, 8))
    return sp, pc & ~1


def settle_console(owner: str, name: str, console: Console,
                   sock: socket.socket | None) -> None:
    """Nothing of ours unread by the chip (else its console is stuck), everything it sent
    already taken by the console's reader; then the console's buffer is cleared. Without the
    socket (a serial port) only the buffer is cleared."""
    if sock is not None:
        if (stuck := unread_by_peer(sock)):
            raise NotClean(f"{owner}: console {name!r} is stuck: {stuck} bytes sent to the "
                           f"chip were never read")
        if not wait_read_here(sock, 0.5):
            raise NotClean(f"{owner}: console {name!r} output does not drain")
    console.clear()
