"""NEC pulse trains as (level, cycles) segments for ``pins.drive``: the receiver module's
output is active low, so a mark is 0 and a space is 1."""

from __future__ import annotations

MARK, SPACE = 0, 1
UNIT_TICKS = 16  # the decoder's NEC unit T, in ticks of CLKDIV+1 cycles


def frame_units(address: int, command: int, *, extended: bool = False) -> list[tuple[int, float]]:
    """One frame as (level, length in units of T)."""
    if extended:
        payload = (address & 0xFFFF) | (command & 0xFF) << 16 | (~command & 0xFF) << 24
    else:
        payload = ((address & 0xFF) | (~address & 0xFF) << 8 | (command & 0xFF) << 16
                   | (~command & 0xFF) << 24)
    return bits_units(payload, 32)


def bits_units(payload: int, nbits: int) -> list[tuple[int, float]]:
    seg = [(MARK, 16), (SPACE, 8)]
    for i in range(nbits):
        seg += [(MARK, 1), (SPACE, 3 if payload >> i & 1 else 1)]
    return seg + [(MARK, 1), (SPACE, 20)]


def repeat_units() -> list[tuple[int, float]]:
    return [(MARK, 16), (SPACE, 4), (MARK, 1), (SPACE, 20)]


def to_cycles(units: list[tuple[int, float]], cycles_per_unit: float) -> list[tuple[int, int]]:
    return [(level, round(n * cycles_per_unit)) for level, n in units]
