"""The panel's line and shift state, above a stand-in station (the real one, with pytest units,
QEMU and Chromium, is driven in tests/integration/station/test_panel_browser.py)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.station import records as R
from harness.station.panel.line import PanelLine, Refused
from harness.station.prompts import Prompt, read_answer
from harness.station.station import UnitResult

PATTERN = r"W[0-9]{6}"


class FakeStation:
    """Runs a 'unit' in the slot thread until told to end it (or aborted)."""

    def __init__(self, tmp: Path, slots=(1, 2)) -> None:
        self.slots = list(slots)
        self.name = "st-1"
        self.product = SimpleNamespace(name="p", part_number="P-1", description="",
                                       serial_pattern=PATTERN, root=tmp)
        self.db = f"sqlite:///{tmp / 'r.db'}"
        R.open_store(self.db).dispose()
        self.results = tmp
        self.listener = lambda event, data: None
        self.prompts = False
        self.stop = SimpleNamespace(request=lambda reason: self.stopped.append(reason))
        self.stopped: list[str] = []
        self.started: list[tuple[str, int, str]] = []
        self.finish: dict[int, threading.Event] = {}
        self.tmp = tmp

    def run_unit(self, serial, slot, attempt, abort=None, operator=None):
        self.started.append((serial, slot, operator))
        d = self.tmp / f"u{len(self.started)}"
        d.mkdir()
        done = self.finish.setdefault(slot, threading.Event())
        self.listener("start", {"serial": serial, "slot": slot, "attempt": 1, "dir": d})
        self.listener("progress", {"slot": slot, "event": "collected", "total": 2})
        while not done.wait(0.01):
            if abort.is_set():
                res = UnitResult(serial, slot, 1, "aborted", 0.1, d, 143, reason=abort.reason)
                break
        else:
            res = UnitResult(serial, slot, 1, "pass", 0.2, d, 0, run_id=7)
        done.clear()
        self.listener("end", {"result": res})
        return res

    def first_outcomes(self, serials):
        return {}


@pytest.fixture
def line(tmp_path):
    st = FakeStation(tmp_path)
    ln = PanelLine(st)  # type: ignore[arg-type]
    yield ln
    for ev in st.finish.values():
        ev.set()


def wait_state(line: PanelLine, slot: int, state: str) -> dict:
    for _ in range(500):
        snap = line.shift.snapshot()
        s = snap["slots"][slot - 1]
        if s["state"] == state:
            return s
        line.shift.wait(snap["version"], 0.02)
    raise AssertionError(f"slot {slot} never {state}: {line.shift.snapshot()['slots']}")


def running(line: PanelLine, slot: int) -> dict:
    """Wait until the unit on ``slot`` runs (its pytest collected)."""
    for _ in range(500):
        snap = line.shift.snapshot()
        s = snap["slots"][slot - 1]
        if s["state"] == "testing" and s["total"]:
            return s
        line.shift.wait(snap["version"], 0.02)
    raise AssertionError(f"slot {slot} never ran: {line.shift.snapshot()['slots']}")


def test_a_scan_needs_an_operator_and_a_valid_serial(line):
    assert line.scan("W123456", "req-0001")["reason"] == "enter your operator id first"
    line.begin_shift("op-1")
    bad = line.scan("<script>", "req-0002")
    assert not bad["ok"] and "does not match the product's pattern" in bad["reason"]
    assert line.station.started == []


@pytest.mark.parametrize("op", ["", " ", "a\x00b", "x" * 65, "tab\there"])
def test_operator_ids_that_are_refused(line, op):
    with pytest.raises(Refused):
        line.begin_shift(op)


def test_scans_fill_free_slots_once_each(line):
    line.begin_shift("op-1")
    a = line.scan("W000001", "req-0001")
    again = line.scan("W000001", "req-0001")  # the page sent it again after a drop
    assert a == again and a["slot"] == 1
    assert line.scan("W000001", "req-0003")["reason"] == "already testing in slot 1"
    assert line.scan("W000002", "req-0004")["slot"] == 2
    assert line.scan("W000003", "req-0005")["reason"].startswith("every slot is testing")
    running(line, 1)
    assert line.station.started == [("W000001", 1, "op-1"), ("W000002", 2, "op-1")]
    line.station.finish[1].set()
    s = wait_state(line, 1, "pass")
    assert s["run_id"] == 7
    assert line.scan("W000003", "req-0006")["slot"] == 1  # the slot with a verdict is free


def test_bad_request_ids_are_refused(line):
    line.begin_shift("op-1")
    for rid in ("", "short", "x" * 65, "../../etc"):
        with pytest.raises(Refused):
            line.scan("W000001", rid)


def test_abort_stops_that_unit_saying_who(line):
    line.begin_shift("Ann")
    line.scan("W000001", "req-0001")
    line.scan("W000002", "req-0002")
    running(line, 1)
    assert line.abort(1)
    s = wait_state(line, 1, "aborted")
    assert s["reason"] == "aborted by operator Ann from the panel"
    assert line.shift.snapshot()["slots"][1]["state"] == "testing"  # the other slot goes on
    assert not line.abort(1)  # nothing runs there now
    with pytest.raises(LookupError):
        line.abort(9)


def test_prompt_answers_are_checked_and_written_once(line):
    line.begin_shift("op-2")
    line.scan("W000001", "req-0001")
    running(line, 1)
    p = Prompt("number", "Mains voltage?", "mains", 30.0, unit="V", low=207, high=253)
    line.station.listener("progress", {"slot": 1, **p.as_event()})
    assert line.shift.snapshot()["slots"][0]["prompt"]["id"] == p.id
    with pytest.raises(LookupError):
        line.answer(1, "0" * 16, 230)
    with pytest.raises(Refused, match="not a number"):
        line.answer(1, p.id, "abc")
    assert line.shift.snapshot()["slots"][0]["prompt_error"].startswith("not a number")
    assert line.answer(1, p.id, "230,5") == 230.5
    unit_dir = line.station.tmp / "u1"
    assert read_answer(unit_dir, p.id) == {"id": p.id, "answer": 230.5, "operator": "op-2"}
    with pytest.raises(FileExistsError):
        line.answer(1, p.id, "231")
    line.station.listener("progress", {"slot": 1, "event": "prompt-closed", "id": p.id})
    assert line.shift.snapshot()["slots"][0]["prompt"] is None


def test_the_snapshot_is_json_and_carries_progress_and_measurements(line):
    line.begin_shift("op")
    line.scan("W000001", "req-0001")
    running(line, 1)
    emit = line.station.listener
    emit("progress", {"slot": 1, "event": "step", "name": "test_a", "nodeid": "t.py::test_a"})
    for v in (1.0, 2.0):
        emit("progress", {"slot": 1, "event": "measurement", "name": "i", "value": v,
                          "unit": "mA", "low": 0, "high": 5, "outcome": "pass"})
    emit("progress", {"slot": 1, "event": "test", "nodeid": "t.py::test_a",
                      "outcome": "failed"})
    snap = json.loads(json.dumps(line.shift.snapshot()))
    s = snap["slots"][0]
    assert (s["step"], s["done"], s["total"]) == ("test_a", 1, 2)
    assert s["measurements"] == [{"name": "i", "value": 2.0, "unit": "mA", "low": 0,
                                  "high": 5, "outcome": "pass"}]
    assert s["failed_steps"] == ["test_a"]


def test_close_stops_every_running_unit(line):
    line.begin_shift("op")
    line.scan("W000001", "req-0001")
    running(line, 1)
    line.station.finish[1].set()  # the fake ends when its unit is told (its own stop)
    busy = line.close("station stopped: SIGTERM from the operator")
    assert busy in ([1], [])
    snap = line.shift.snapshot()
    assert snap["closed"] and "SIGTERM" in snap["notice"]
    assert line.station.stopped == ["station stopped: SIGTERM from the operator"]
    assert line.scan("W000002", "req-0002")["reason"] == "the station is stopping"


def test_a_prompt_picture_is_found_where_units_run(line):
    line.begin_shift("op")
    line.scan("W000001", "req-0001")
    running(line, 1)
    assert line.prompt_image(1) is None
    p = Prompt("confirm", "Like this?", "like-this", 30.0, image="pics/cable.png")
    line.station.listener("progress", {"slot": 1, **p.as_event()})
    assert line.prompt_image(1) == line.station.tmp / "pics/cable.png"
