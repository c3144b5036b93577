"""The emulated line: the station on real QEMU chips, 4 slots, the CLI, and the HTML report
opened in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.firmware import load_image
from harness.station import records as R
from harness.station.product import load_product
from harness.station.station import Station

ROOT = Path(__file__).resolve().parents[3]

SUITE = "tests/acceptance/washer/test_measurements.py"
SERIALS = ["W2644000101", "W2644000102", "W2644000103", "W2644000104"]


@pytest.fixture(scope="module")
def line(tmp_path_factory):
    """Four units through four slots at once; the records in a fresh SQLite store."""
    tmp = tmp_path_factory.mktemp("line")
    product = load_product("qsm-washer", ROOT / "targets").model_copy(update={"suite": [SUITE]})
    events: list[tuple[str, dict]] = []
    station = Station(product, [1, 2, 3, 4], f"sqlite:///{tmp / 'harness.db'}", "line-test",
                      "tester", tmp, ROOT / "targets/benches/emulated.yaml",
                      listener=lambda e, d: events.append((e, d)))
    # slots are leased across processes: a lease dir of its own, so that another xdist worker's
    # station test holds its own slot 1
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_LEASE_DIR", str(tmp / "leases"))
        summary = station.run(SERIALS)
    return tmp, summary, events


def test_four_slots_produce_four_independent_records(line):
    tmp, summary, events = line
    assert [r.outcome for r in summary.results] == ["pass"] * 4, \
        [(r.serial, r.reason) for r in summary.results]
    assert summary.units == 4 and summary.first_pass_yield == 1.0 and summary.exit_code == 0
    engine = R.open_store(f"sqlite:///{tmp / 'harness.db'}")
    with engine.connect() as conn:
        runs = R.run_rows(conn)
        recs = [R.record(conn, r["id"]) for r in runs]
    engine.dispose()
    elf = load_image(ROOT / "firmware/build/washer/washer.elf", "fw_version")
    assert sorted(r["serial"] for r in runs) == SERIALS
    assert sorted(r["slot"] for r in runs) == [1, 2, 3, 4]
    assert len({r["pid"] for r in runs}) == 4  # a process per unit
    for run, rec in zip(runs, recs, strict=True):
        assert run["outcome"] == "pass" and run["station"] == "line-test"
        assert run["firmware_sha256"] == elf.sha256
        assert run["firmware_version"] == str(elf.version)
        assert run["part_number"] == "QSM-W-1000-A" and len(run["limits_sha256"]) == 64
        names = sorted(m["name"] for s in rec["steps"] for m in s["measurements"])
        assert names == sorted(["boot_to_ready", "fill_time", "heater_on_time", "drain_time",
                                "program_duration", "wash_temperature",
                                "quick_heater_on_time"])
        assert all(m["run_id"] == run["id"] for s in rec["steps"] for m in s["measurements"])
        assert all(d["run_id"] == run["id"] for d in rec["duts"]) and len(rec["duts"]) == 3
    # live progress: every unit started, reported its tests, ended
    assert sorted(d["serial"] for e, d in events if e == "start") == SERIALS
    assert sum(1 for e, d in events if e == "progress" and d.get("event") == "test") == 12


class _Cells(HTMLParser):
    """Text of table cells with class 'value', keyed by the row's data-name."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list[tuple[str, str]] = []
        self.caps: dict[str, list[str]] = {}
        self._row: str | None = None
        self._cap_row: str | None = None
        self._in_value = False
        self._in_td = False
        self.imgs = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and a.get("class") == "measurement":
            self._row = a["data-name"]
        elif tag == "tr" and "data-name" in a:
            self._cap_row = a["data-name"]
            self.caps[self._cap_row] = []
        elif tag == "td":
            self._in_td = True
            self._in_value = a.get("class") == "value" and self._row is not None
        elif tag == "img" and a.get("src", "").startswith("data:image/png;base64,"):
            self.imgs += 1

    def handle_endtag(self, tag):
        if tag == "tr":
            self._row = self._cap_row = None
        elif tag == "td":
            self._in_td = self._in_value = False

    def handle_data(self, data):
        if self._in_value:
            self.values.append((self._row, data))
        elif self._in_td and self._cap_row is not None:
            self.caps[self._cap_row].append(data)


def _chromium() -> str:
    path = shutil.which("chromium")
    assert path, "chromium not found: apt-get install -y --no-install-recommends chromium"
    return path


def test_html_report_renders_the_numbers_in_headless_chromium(line, tmp_path):
    tmp, _, _ = line
    db = f"sqlite:///{tmp / 'harness.db'}"
    out = tmp_path / "report.html"
    res = subprocess.run([sys.executable, "-m", "harness", "report", f"--db={db}",
                          f"--out={out}"], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    dom = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
         out.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    cells = _Cells()
    cells.feed(dom.stdout)
    engine = R.open_store(db)
    with engine.connect() as conn:
        want = sorted((m["name"], f"{m['value']:.6g}") for r in R.run_rows(conn)
                      for s in R.record(conn, r["id"])["steps"] for m in s["measurements"])
    engine.dispose()
    assert sorted(cells.values) == want and len(want) == 28
    assert cells.imgs == 7  # one trend plot per measurement
    # capability row: n = 4 units, numbers rendered, and a warning: 4 units are too few
    fill = cells.caps["fill_time"]
    assert fill[0] == "fill_time" and fill[3] == "4"
    assert re.fullmatch(r"[0-9.]+", fill[4])  # the mean
    assert "too few units (n = 4 < 25)" in fill[-1] and "∞" not in dom.stdout


def test_json_export_of_one_run(line):
    tmp, summary, _ = line
    run_id = summary.results[0].run_id
    res = subprocess.run([sys.executable, "-m", "harness", "report",
                          f"--db=sqlite:///{tmp / 'harness.db'}", f"--json={run_id}"],
                         capture_output=True, text=True, cwd=ROOT)
    import json

    rec = json.loads(res.stdout)
    assert rec["id"] == run_id and rec["serial"] == summary.results[0].serial
    assert len(rec["steps"]) == 3 and rec["outcome"] == "pass"


def test_station_cli_reads_a_scanner_on_stdin_and_refuses_hostile_serials(tmp_path):
    scanned = b"\n".join([b"W2644000201", b"'; DROP TABLE runs;--", b"../../etc/passwd",
                          b"$(touch pwned)", b"A" * 10_000, b"W26\xff440001", b"",
                          b"W2644000202"]) + b"\n"
    res = subprocess.run(
        [sys.executable, "-m", "harness", "station", "run", "--product",
         "qsm-washer", "--slots", "2", "--stdin", f"--results={tmp_path}", "--create",
         "--pytest-arg=-k", "--pytest-arg=version or boot_to_ready"],
        input=scanned, capture_output=True, cwd=ROOT, timeout=600,
        env=dict(os.environ, HARNESS_LEASE_DIR=str(tmp_path / "leases")))
    out = res.stdout.decode()
    assert res.returncode == 2, out + res.stderr.decode()  # refused serials: not a clean run
    assert len(re.findall(r"^REFUSED ", out, re.M)) == 5
    assert re.search(r"^PASS +W2644000201 ", out, re.M)
    assert re.search(r"^PASS +W2644000202 ", out, re.M)
    assert "units tested: 2  pass: 2  fail: 0" in out
    assert "first-pass yield: 100.0 %" in out
    assert not (ROOT / "pwned").exists() and not (tmp_path / "pwned").exists()
    # unit directories are named from sanitized serials, all under results/station
    dirs = sorted(p.name for p in (tmp_path / "station").iterdir())
    assert {p.name for p in tmp_path.iterdir()} <= {"harness.db", "harness.db-shm",
                                                    "harness.db-wal", "leases", "station"}
    assert [d.split("-")[0] for d in dirs] == ["W2644000201", "W2644000202"]


def test_an_errored_unit_is_reported_apart_from_a_failed_one(tmp_path, monkeypatch):
    """A unit whose pytest cannot even start (bad option) is an error, not a fail."""
    product = load_product("qsm-washer", ROOT / "targets").model_copy(update={"suite": [SUITE]})
    station = Station(product, [1], f"sqlite:///{tmp_path / 'h.db'}", "s", "o", tmp_path,
                      None, extra_args=["--no-such-option"])
    monkeypatch.setenv("HARNESS_LEASE_DIR", str(tmp_path / "leases"))
    summary = station.run(["W2644000301"])
    (r,) = summary.results
    assert r.outcome == "error" and "without a result" in r.reason
    assert summary.exit_code == 2 and summary.count("fail") == 0
    assert os.path.exists(r.directory / "pytest.log")


def test_a_taken_slot_is_refused_at_once(tmp_path, monkeypatch):
    from harness.bench import NoFreeResource, lease

    monkeypatch.setenv("HARNESS_LEASE_DIR", str(tmp_path / "leases"))
    product = load_product("qsm-washer", ROOT / "targets")
    station = Station(product, [1], f"sqlite:///{tmp_path / 'h.db'}", "s", "o", tmp_path,
                      ROOT / "targets/benches/emulated.yaml")
    with lease("station-slot-emulated-1"), pytest.raises(NoFreeResource, match="slot-emulated-1"):
        station.run(["W2644000401"])


def test_first_pass_yield_counts_a_first_attempt_aborted_in_an_earlier_station_run(store_url):
    """The summary's first-pass yield reads each serial's first run from the records: a unit
    that passes today after a run killed yesterday is not first-pass."""
    from harness.station.recorder import Recorder, RunInfo
    from harness.station.station import Summary, UnitResult

    engine = R.open_store(store_url)
    info = dict(product="qsm-washer", part_number="QSM-W-1000-A", station="s", slot=1,
                operator="o")
    Recorder.start(engine, RunInfo(serial="W2644000601", **info))  # killed: no end
    ids = {}
    for sn in ("W2644000601", "W2644000602"):
        rec = Recorder.start(engine, RunInfo(serial=sn, **info))
        rec.end("pass", tests=1, failed=0, errors=0)
        ids[sn] = rec.run_id
    engine.dispose()
    product = load_product("qsm-washer", ROOT / "targets")
    station = Station(product, [1], store_url, "s", "o", Path("."))
    first = station.first_outcomes(sorted(ids))
    assert first == {"W2644000601": "aborted", "W2644000602": "pass"}
    results = [UnitResult(sn, 1, 1, "pass", 1.0, Path("."), 0, run_id=rid)
               for sn, rid in ids.items()]
    assert Summary(results, [], 1.0, first=first).first_pass_yield == 0.5
