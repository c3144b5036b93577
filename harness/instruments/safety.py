"""Safety limits: a supply channel may never be set beyond what the DUT it feeds can take.

Checked before anything is sent to the instrument.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..bench import SupplyChannel
from .errors import SafetyLimitError


class SafetyLimits:
    def __init__(self, name: str, channels: Mapping[int, SupplyChannel]) -> None:
        self.name = name
        self.channels = dict(channels)

    def channel(self, ch: int) -> SupplyChannel:
        try:
            return self.channels[ch]
        except KeyError:
            wired = ", ".join(map(str, sorted(self.channels))) or "none"
            raise SafetyLimitError(f"{self.name}: channel {ch} has no safety limits in the "
                                   f"bench inventory (channels with limits: {wired}); "
                                   f"refusing to drive it") from None

    def check_voltage(self, ch: int, volts: float) -> None:
        lim = self.channel(ch)
        if not 0 <= volts <= lim.max_voltage:
            raise SafetyLimitError(f"{self.name}: channel {ch}: {volts:g} V is beyond the "
                                   f"safety limit of {lim.max_voltage:g} V; nothing was sent")

    def check_current(self, ch: int, amps: float) -> None:
        lim = self.channel(ch)
        if not 0 <= amps <= lim.max_current:
            raise SafetyLimitError(f"{self.name}: channel {ch}: {amps:g} A is beyond the "
                                   f"safety limit of {lim.max_current:g} A; nothing was sent")
