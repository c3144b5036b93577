"""Watch and send plain CAN frames next to a UDS client, on the bus's one notifier."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from .. import patience


@dataclass(frozen=True)
class Frame:
    id: int
    data: bytes
    at: float  # host monotonic time of arrival


class FrameMonitor:
    """Keeps every received frame (by id) from the moment it is attached."""

    def __init__(self, bus, notifier, timeout_factor: float = 1.0, keep: int = 4096) -> None:
        self.bus = bus
        self.notifier = notifier
        self.timeout_factor = timeout_factor
        self.keep = keep
        self._frames: list[Frame] = []
        self._cond = threading.Condition()
        notifier.add_listener(self._on_message)

    def _on_message(self, msg) -> None:
        if msg.is_error_frame or msg.is_remote_frame:
            return
        with self._cond:
            self._frames.append(Frame(msg.arbitration_id, bytes(msg.data), time.monotonic()))
            del self._frames[:-self.keep]
            self._cond.notify_all()

    def close(self) -> None:
        self.notifier.remove_listener(self._on_message)

    def mark(self) -> int:
        with self._cond:
            return len(self._frames)

    def frames(self, can_id: int | None = None, since: int = 0) -> list[Frame]:
        with self._cond:
            return [f for f in self._frames[since:] if can_id is None or f.id == can_id]

    def wait_for(self, can_id: int, predicate=lambda f: True, timeout: float = 2.0,
                 since: int | None = None) -> Frame:
        """The first frame with ``can_id`` (after mark ``since``, default: from now) that
        satisfies ``predicate``; AssertionError naming the id when none comes."""
        start = self.mark() if since is None else since
        deadline = time.monotonic() + patience.limit(timeout, self.timeout_factor)
        seen = start
        with self._cond:
            while True:
                for f in self._frames[seen:]:
                    if f.id == can_id and predicate(f):
                        return f
                seen = len(self._frames)
                left = deadline - time.monotonic()
                if left <= 0:
                    last = [f for f in self._frames if f.id == can_id][-1:]
                    raise AssertionError(
                        f"no matching frame 0x{can_id:03X} within {timeout:.1f} s"
                        + (f"; last one: {last[0].data.hex(' ')}" if last else "; none at all"))
                self._cond.wait(left)

    def send(self, can_id: int, data: bytes, extended: bool = False) -> None:
        import can

        self.bus.send(can.Message(arbitration_id=can_id, data=bytes(data),
                                  is_extended_id=extended))
