"""The line behind the panel: a scanned serial number starts a unit on the next free slot.

The units run on the same :class:`~harness.station.station.Station` as ``harness station run``
(one pytest process per unit, leased bench slots, records, stop semantics); the panel only
decides *when* a unit starts — when the operator scans it — and forwards aborts and prompt
answers. Each scan carries a request id chosen by the page: a scan sent again after a network
drop gets the first answer back and never starts a second run.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from ..prompts import Prompt, write_answer
from ..serials import check, shown
from ..station import Station, Stop
from .shift import Counters, Shift, now_ms

OPERATOR = re.compile(r"[^\x00-\x1f\x7f]{1,64}")
REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
CAPABILITY_WINDOW = 50  # latest values per measurement behind Cp/Cpk
TREND = 30  # points of the trend line


class Refused(ValueError):
    """An input the line does not take; the message is for the operator."""


@dataclass
class _Unit:
    serial: str
    thread: threading.Thread
    abort: Stop


class PanelLine:
    def __init__(self, station: Station) -> None:
        self.station = station
        p = station.product
        self.shift = Shift(station.slots, station=station.name,
                           product={"name": p.name, "part_number": p.part_number,
                                    "description": p.description,
                                    "serial_pattern": p.serial_pattern})
        station.listener = self._on_event
        station.prompts = True
        self._units: dict[int, _Unit] = {}
        self._lock = threading.Lock()
        self._requests: OrderedDict[str, dict] = OrderedDict()
        self._dirs: dict[int, Path] = {}  # slot → its unit's results directory

    # -- operator actions --------------------------------------------------------------------
    def begin_shift(self, operator: str) -> None:
        operator = str(operator).strip()
        if not OPERATOR.fullmatch(operator):
            raise Refused("operator id: 1 to 64 characters, no control characters")
        self.shift.begin(operator)

    def scan(self, raw: str, request_id: str) -> dict:
        """Start the unit ``raw`` on the next free slot; the answer says which, or why not."""
        if not REQUEST_ID.fullmatch(str(request_id)):
            raise Refused("request id: 8 to 64 letters, digits, '-' or '_'")
        with self._lock:
            if request_id in self._requests:
                return self._requests[request_id]  # sent again after a network drop
            answer = self._scan(str(raw).strip())
            self._requests[request_id] = answer
            while len(self._requests) > 1000:
                self._requests.popitem(last=False)
        self.shift.scanned(answer)
        return answer

    def _scan(self, serial: str) -> dict:
        def refuse(reason: str) -> dict:
            return {"ok": False, "serial": serial, "shown": shown(serial), "reason": reason,
                    "at_ms": now_ms()}

        if self.shift.closed:
            return refuse("the station is stopping")
        if self.shift.operator is None:
            return refuse("enter your operator id first")
        why = check(serial, self.station.product.serial_pattern)
        if why:
            return refuse(why)
        busy = self.shift.testing(serial)
        if busy is not None:
            return refuse(f"already testing in slot {busy}")
        slot = self.shift.free_slot()
        if slot is None:
            return refuse("every slot is testing: wait for a verdict")
        self._start(serial, slot, self.shift.operator)
        return {"ok": True, "serial": serial, "shown": shown(serial), "slot": slot,
                "at_ms": now_ms()}

    def _start(self, serial: str, slot: int, operator: str) -> None:
        abort = Stop()
        self.shift.on_event("start", {"serial": serial, "slot": slot})  # busy from now on
        t = threading.Thread(target=self._run, args=(serial, slot, operator, abort),
                             name=f"panel-slot{slot}", daemon=True)
        self._units[slot] = _Unit(serial, t, abort)
        t.start()

    def _run(self, serial: str, slot: int, operator: str, abort: Stop) -> None:
        try:
            self.station.run_unit(serial, slot, 1, abort=abort, operator=operator)
        except Exception as exc:  # the station failing (not the unit): the slot says why
            self.shift.note(f"slot {slot}: {type(exc).__name__}: {exc}")
            from ..station import UnitResult

            self.shift.on_event("end", {"result": UnitResult(
                serial, slot, 1, "error", 0.0, self.station.results, None,
                reason=f"the station failed: {exc}")})
        finally:
            self.refresh_stats()

    def abort(self, slot: int) -> bool:
        """Stop the unit on ``slot``; it records ``aborted`` with the operator's name. False:
        nothing runs there."""
        self._slot(slot)
        unit = self._units.get(slot)
        if unit is None or not self.shift.busy(slot):
            return False
        unit.abort.request(f"aborted by operator {self.shift.operator} from the panel")
        self.shift.stopping(slot)
        return True

    def answer(self, slot: int, prompt_id: str, raw: object) -> object:
        """The operator's answer to the open prompt ``prompt_id`` of ``slot``."""
        self._slot(slot)
        open_ = self.shift.prompt(slot)
        if open_ is None or open_.get("id") != prompt_id:
            raise LookupError(f"slot {slot} has no open prompt {str(prompt_id)[:20]!r}")
        unit_dir = self._dirs.get(slot)
        if unit_dir is None:
            raise LookupError(f"slot {slot}: the unit's directory is not known yet")
        prompt = Prompt.from_event(open_)
        try:
            return write_answer(unit_dir, prompt, raw,
                                self.shift.operator or "unknown")
        except ValueError as exc:
            self.shift.refused_answer(slot, str(exc))
            raise Refused(str(exc)) from None

    def prompt_image(self, slot: int) -> Path | None:
        """The picture of the open prompt on ``slot`` (a path relative to the product's root,
        where units run, or absolute), or None."""
        self._slot(slot)
        p = self.shift.prompt(slot)
        if not p or not p.get("image"):
            return None
        path = Path(str(p["image"]))
        return path if path.is_absolute() else Path(self.station.product.root) / path

    def _slot(self, slot: int) -> None:
        if slot not in self.shift.slots:
            raise LookupError(f"no slot {slot} on this station (slots: "
                              f"{', '.join(map(str, sorted(self.shift.slots)))})")

    # -- the engine's events -----------------------------------------------------------------
    def _on_event(self, event: str, data: dict) -> None:
        if event == "start":
            self._dirs[data["slot"]] = Path(data["dir"])
        self.shift.on_event(event, data)

    # -- the shift's figures -----------------------------------------------------------------
    def refresh_stats(self) -> None:
        """Counters and capability from the records (first-pass yield: any station, any day)."""
        final = dict(self.shift.final)
        c = Counters(units=len(final))
        c.passed = sum(1 for o in final.values() if o == "pass")
        c.failed = sum(1 for o in final.values() if o == "fail")
        c.errors = c.units - c.passed - c.failed
        capability: list[dict] = []
        try:
            first = self.station.first_outcomes(sorted(final))
            c.first_pass = sum(1 for sn in final if first.get(sn) == "pass")
            capability = self._capability()
        except Exception as exc:  # the store away: the line goes on, the page says so
            self.shift.note(f"shift figures not updated: {type(exc).__name__}: {exc}")
        c.fpy = c.first_pass / c.units if c.units else None
        started = self.shift.started_ms
        if started is not None and c.units:
            hours = max(now_ms() - started, 1000) / 3.6e6
            c.uph = round(c.units / hours, 1)
        self.shift.stats(c, capability)

    def _capability(self) -> list[dict]:
        from .. import records as R
        from ..stats import capability

        engine = R.make_engine(self.station.db)
        try:
            with engine.connect() as conn:
                latest = R.latest_values(conn, self.station.product.name, CAPABILITY_WINDOW)
        finally:
            engine.dispose()
        out = []
        for name, got in sorted(latest.items()):
            _, unit, low, high = got[-1]  # the limits in force now
            cap = capability([v for v, *_ in got], low, high)
            out.append({"name": name, "unit": unit, "low": low, "high": high, "n": len(got),
                        "cp": _round(cap.cp) if cap else None,
                        "cpk": _round(cap.cpk) if cap else None,
                        "note": cap.note if cap else "one value",
                        "trend": [v for v, *_ in got[-TREND:]]})
        return out

    # -- the end -----------------------------------------------------------------------------
    def close(self, reason: str, grace: float | None = None) -> list[int]:
        """Stop the line: no unit starts; running ones are stopped with ``reason`` (they
        record ``aborted``) and waited for. The slots that were testing."""
        self.shift.close(reason)
        self.station.stop.request(reason)
        busy = [s for s, u in self._units.items() if u.thread.is_alive()]
        for s in busy:
            self.shift.stopping(s)
        for s in busy:
            with contextlib.suppress(RuntimeError):
                self._units[s].thread.join(grace)
        return busy


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 3)
