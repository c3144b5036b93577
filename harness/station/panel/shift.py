"""The live state of a shift, as every view of the panel sees it.

One :class:`Shift` holds it under a lock and hands out whole snapshots (:meth:`Shift.snapshot`)
with a version that grows on every change: a page that reloads or reconnects after a network
drop gets the current snapshot and misses nothing, because nothing is sent as a difference.
Station events (:meth:`Shift.on_event`, the station's listener) come from the slot threads.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field

LAST = 20  # results kept for the page
MEASUREMENTS = 40  # per slot, the latest value of each name


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class SlotState:
    slot: int
    state: str = "idle"  # idle testing stopping pass fail error aborted
    serial: str = ""
    run_id: int | None = None
    step: str = ""  # the test under way (its name)
    done: int = 0
    total: int = 0
    started_ms: int | None = None
    ended_ms: int | None = None
    seconds: float | None = None
    reason: str = ""  # why it did not pass
    measurements: list[dict] = field(default_factory=list)
    prompt: dict | None = None  # the open operator prompt
    prompt_error: str = ""  # why the last answer was refused
    failed_steps: list[str] = field(default_factory=list)


@dataclass
class Counters:
    units: int = 0  # serials tested this shift (a retest counts once)
    passed: int = 0  # of their last results
    failed: int = 0
    errors: int = 0  # error or aborted
    first_pass: int = 0  # serials whose first run ever (records) passed
    fpy: float | None = None
    uph: float | None = None


class Shift:
    def __init__(self, slots: list[int], *, station: str, product: dict) -> None:
        self._lock = threading.Condition()
        self.version = 0
        self.station = station
        self.product = product
        self.operator: str | None = None
        self.started_ms: int | None = None
        self.slots = {s: SlotState(s) for s in slots}
        self.counters = Counters()
        self.last: deque[dict] = deque(maxlen=LAST)
        self.final: dict[str, str] = {}  # serial → its latest outcome this shift
        self.capability: list[dict] = []
        self.scan: dict | None = None  # the last scan's answer (refusals shown to every view)
        self.notice = ""  # why the line stopped, a store error...
        self.closed = False

    # -- changes -----------------------------------------------------------------------------
    def _changed(self) -> None:
        self.version += 1
        self._lock.notify_all()

    def begin(self, operator: str) -> None:
        with self._lock:
            self.operator = operator
            if self.started_ms is None:
                self.started_ms = now_ms()
            self._changed()

    def scanned(self, answer: dict) -> None:
        with self._lock:
            self.scan = answer
            self._changed()

    def note(self, text: str) -> None:
        with self._lock:
            self.notice = text
            self._changed()

    def close(self, why: str) -> None:
        with self._lock:
            self.closed = True
            self.notice = why
            self._changed()

    def stopping(self, slot: int) -> None:
        with self._lock:
            st = self.slots[slot]
            if st.state == "testing":
                st.state = "stopping"
                self._changed()

    def refused_answer(self, slot: int, why: str) -> None:
        with self._lock:
            self.slots[slot].prompt_error = why
            self._changed()

    def stats(self, counters: Counters, capability: list[dict]) -> None:
        with self._lock:
            self.counters = counters
            self.capability = capability
            self._changed()

    def on_event(self, event: str, data: dict) -> None:
        """The station's listener (see :class:`~harness.station.station.Station`)."""
        with self._lock:
            if event == "start":
                st = self.slots[data["slot"]]
                if st.state == "testing" and st.serial == data["serial"] and st.done == 0:
                    return  # the line marked it busy the moment it was scanned
                self.slots[data["slot"]] = SlotState(
                    data["slot"], state="testing", serial=data["serial"],
                    started_ms=now_ms())
            elif event == "progress":
                self._progress(self.slots[data["slot"]], data)
            elif event == "end":
                self._end(data["result"])
            elif event == "lost-runs":
                self.notice = (f"closed {len(data.get('runs') or [])} run(s) of an earlier "
                               f"station as aborted (lost)")
            else:
                return
            self._changed()

    def _progress(self, st: SlotState, ev: dict) -> None:
        kind = ev.get("event")
        if kind == "collected":
            st.total = int(ev.get("total") or 0)
        elif kind == "run":
            st.run_id = ev.get("run_id")
        elif kind == "step":
            st.step = str(ev.get("name") or ev.get("nodeid") or "")
        elif kind == "test":
            st.done += 1
            if ev.get("outcome") in ("failed", "error"):
                st.failed_steps.append(str(ev.get("nodeid", "")).rsplit("::", 1)[-1])
        elif kind == "measurement":
            m = {k: ev.get(k) for k in ("name", "value", "unit", "low", "high", "outcome")}
            st.measurements = [x for x in st.measurements if x["name"] != m["name"]]
            st.measurements.append(m)
            del st.measurements[:-MEASUREMENTS]
        elif kind == "prompt":
            st.prompt = {k: v for k, v in ev.items() if k != "event"}
            st.prompt["since_ms"] = now_ms()
            st.prompt_error = ""
        elif kind == "prompt-closed":
            if st.prompt is not None and st.prompt.get("id") == ev.get("id"):
                st.prompt, st.prompt_error = None, ""
        elif kind == "store-wait":
            st.reason = f"waiting for the record store: {ev.get('error', '')}"
        elif kind == "lost":
            st.reason = str(ev.get("reason") or "")

    def _end(self, res) -> None:
        st = self.slots[res.slot]
        st.state = res.outcome
        st.ended_ms = now_ms()
        st.seconds = round(res.seconds, 2)
        st.run_id = res.run_id if res.run_id is not None else st.run_id
        st.reason = res.reason if res.outcome != "pass" else ""
        st.prompt = None
        st.step = ""
        self.final[res.serial] = res.outcome
        self.last.appendleft({"serial": res.serial, "slot": res.slot, "outcome": res.outcome,
                              "seconds": st.seconds, "run_id": st.run_id,
                              "ended_ms": st.ended_ms, "reason": st.reason[:300]})

    # -- reading -----------------------------------------------------------------------------
    def busy(self, slot: int) -> bool:
        with self._lock:
            return self.slots[slot].state in ("testing", "stopping")

    def free_slot(self) -> int | None:
        with self._lock:
            for s, st in sorted(self.slots.items()):
                if st.state not in ("testing", "stopping"):
                    return s
            return None

    def testing(self, serial: str) -> int | None:
        """The slot testing ``serial`` now, if any."""
        with self._lock:
            for s, st in self.slots.items():
                if st.serial == serial and st.state in ("testing", "stopping"):
                    return s
            return None

    def prompt(self, slot: int) -> dict | None:
        with self._lock:
            p = self.slots[slot].prompt
            return dict(p) if p is not None else None

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "version": self.version, "now_ms": now_ms(), "station": self.station,
                "product": self.product, "operator": self.operator,
                "shift_started_ms": self.started_ms, "closed": self.closed,
                "notice": self.notice, "scan": self.scan,
                "slots": [asdict(st) for _, st in sorted(self.slots.items())],
                "counters": asdict(self.counters), "last": list(self.last),
                "capability": self.capability,
            }

    def wait(self, version: int, timeout: float) -> int:
        """Block until the version is past ``version`` (or ``timeout``); the version now."""
        with self._lock:
            self._lock.wait_for(lambda: self.version != version or self.closed, timeout)
            return self.version
