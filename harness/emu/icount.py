"""Whether an emulated board can run on chip time, and the QEMU arguments that put it there.

Chip time is QEMU's instruction counter: ``-icount shift=N,sleep=off``, N the board profile's
``chip_time_shift`` (2^N ns an instruction; see :mod:`harness.emu.vclock`). The qemu world,
the pyocd world's ``qemu:auto`` chips and ``python -m harness.probes.launch --chip-time`` ask
the same two questions here: does the board have an instruction time, and does the installed
QEMU count timer interrupts right on icount.
"""

from __future__ import annotations

# QEMU 7.2 (Debian 12's own) loses every other timer interrupt of a sleeping core under icount
# sleep=off: a 1 ms SysTick counted 0.5 per ms of chip time. 10.0 counts it exactly.
CHIP_TIME_QEMU = (10, 0)


def board_shift(board: str | None) -> int | None:
    """The icount shift of a board profile (2^shift ns per instruction), None if unknown."""
    if board is None:
        return None
    from ..config import board_profile

    return board_profile(board).chip_time_shift


def icount_args(shift: int) -> list[str]:
    return ["-icount", f"shift={shift},sleep=off"]


def problems(board: str | None, where: object, check_version: bool = True) -> list[str]:
    """Why a chip of ``board`` cannot run on chip time (empty: it can); ``where`` names the
    file that chose the board, for the message. ``check_version``: the installed QEMU's too."""
    from .process import qemu_version

    out = []
    if check_version and (found := qemu_version()) < CHIP_TIME_QEMU:
        need = ".".join(map(str, CHIP_TIME_QEMU))
        out.append(f"--chip-time on needs QEMU {need} or later, and "
                   f"{'.'.join(map(str, found))} is installed: its icount loses every "
                   f"other timer interrupt of a sleeping core, so firmware time would run "
                   f"at half speed (on Debian 12: apt-get install -t bookworm-backports "
                   f"qemu-system-arm; or run with --chip-time off)")
    if board_shift(board) is None:
        out.append(f"{where}: --chip-time on needs the board's instruction time "
                   f"(chip_time_shift in its profile); board {board or 'none'} has none")
    return out
