"""The HTML report of a line of 30 varied units, in real headless Chromium at 1280 px, and the
commands that read records refusing a store that does not exist.

The screenshot goes to ``results/report-1280.png`` (the project's results directory)."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.station import records as R
from harness.station.limits import Limit
from harness.station.recorder import Recorder, RunInfo
from harness.station.report import build_html, trend_figure, trend_points
from harness.station.stats import MIN_UNITS

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOT = ROOT / "results" / "report-1280.png"
WIDTH = 1280

FILL = Limit(name="fill_time", low=30, high=55, unit="s", marginal=1)
SUPPLY = Limit(name="supply_voltage", low=3.0, high=3.6, unit="V")  # every unit the same
STANDBY = Limit(name="standby_current", high=0.5, unit="mA")  # measured on 5 units only
SHA = "5" * 64
UNITS = 30
NODEID = ("tests/acceptance/washer/test_measurements.py::test_fill_and_drain_times_of_every_"
          "program_under_load[cotton-60C-1400rpm-eco-extra-rinse-prewash-delayed-start-half-"
          "load-anti-crease-steam]")
MESSAGE = ("AssertionError: fill_time = 56.2 s: FAIL (limits 30..55 s)\n"
           + "console: " + "EVT_state_FILL_at=" * 120 + "\n" + "E   " + "x" * 600)


def _info(serial: str) -> RunInfo:
    return RunInfo(serial=serial, product="qsm-washer", part_number="QSM-W-1000-A",
                   station="line-1", slot=1 + len(serial) % 4, operator="ann")


def _unit(engine, serial: str, fill: float, standby: float | None, fail: bool = False) -> None:
    rec = Recorder.start(engine, _info(serial), git="0" * 40)
    step = rec.start_step(NODEID)
    rec.dut(step, name="qsm-washer", target="qsm-washer", world="qemu",
            firmware_path="/fw/washer.elf", firmware_sha256="ab" * 32,
            firmware_version="washer 1.3.0 (build 2026-12-07, a very long version string)")
    rec.measurement(step, FILL.judge(fill, "s"), SHA)
    rec.measurement(step, SUPPLY.judge(3.3, "V"), SHA)
    if standby is not None:
        rec.measurement(step, STANDBY.judge(standby, "mA"), SHA)
    rec.end_step(step, "failed" if fail else "passed", MESSAGE if fail else "")
    rec.end("fail" if fail else "pass", tests=1, failed=int(fail), errors=0)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """30 units with spread; the first one's first run was aborted (an outlier in it), the
    second failed with a long message."""
    url = f"sqlite:///{tmp_path_factory.mktemp('report') / 'records.db'}"
    engine = R.open_store(url)
    rng = random.Random(15)
    serials = [f"W26440010{i:02d}" for i in range(UNITS)]
    aborted = Recorder.start(engine, _info(serials[0]))  # killed: no end
    step = aborted.start_step(NODEID)
    aborted.measurement(step, FILL.judge(54.5, "s"), SHA)
    for i, sn in enumerate(serials):
        _unit(engine, sn, round(rng.gauss(42.0, 2.0), 2),
              standby=round(rng.uniform(0.1, 0.3), 3) if i < 5 else None, fail=i == 1)
    engine.dispose()
    return url


class _Rows(HTMLParser):
    """The cells of the capability table by measurement, and the totals' text."""

    def __init__(self) -> None:
        super().__init__()
        self.caps: dict[str, list[str]] = {}
        self.fpy = ""
        self._row: str | None = None
        self._cell: list[str] | None = None
        self._in_fpy = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-name" in a and a.get("class") != "measurement":
            self._row = a["data-name"]
            self.caps[self._row] = []
        elif tag == "td" and self._row is not None:
            self._cell = []
        elif tag == "p" and a.get("id") == "fpy":
            self._in_fpy = True

    def handle_endtag(self, tag):
        if tag == "td" and self._row is not None and self._cell is not None:
            self.caps[self._row].append("".join(self._cell))
            self._cell = None
        elif tag == "tr":
            self._row = None
        elif tag == "p":
            self._in_fpy = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._in_fpy:
            self.fpy += data


def test_capability_warns_below_25_units_and_never_prints_infinity(store):
    engine = R.open_store(store)
    html = build_html(engine)
    engine.dispose()
    assert "∞" not in html and not re.search(r">\s*-?inf", html, re.I)  # no infinite cell
    rows = _Rows()
    rows.feed(html)
    fill, supply, standby = (rows.caps[n] for n in ("fill_time", "supply_voltage",
                                                    "standby_current"))
    # [name, unit, limits, n, mean, σ, Cp, Cpk, note]
    assert fill[3] == str(UNITS) and fill[8] == ""  # the aborted run's outlier left out
    assert float(fill[6]) > 0 and float(fill[7]) > 0
    assert supply[3] == str(UNITS) and supply[5] == "0"
    assert supply[6:8] == ["n/a (no spread)"] * 2 and supply[8] == "no spread (σ = 0)"
    assert standby[3] == "5" and standby[6] == "-"  # one-sided: no Cp
    assert standby[8] == f"too few units (n = 5 < {MIN_UNITS})" and float(standby[7]) > 0
    # first-pass yield: the unit whose first run was aborted, and the failed one, are not
    assert re.sub(r"\s+", " ", rows.fpy).startswith(
        f"first-pass yield: {(UNITS - 2) * 100 / UNITS:.1f} % ({UNITS - 2} of {UNITS} serial")


def test_trends_leave_out_aborted_runs_and_count_runs_in_whole_numbers(store):
    engine = R.open_store(store)
    with engine.connect() as conn:
        recs = [R.record(conn, r["id"]) for r in R.run_rows(conn)]
    engine.dispose()
    points = trend_points(recs)
    assert [x for x, _ in points["fill_time"]] == list(range(1, UNITS + 1))
    assert 54.5 not in [v for _, v in points["fill_time"]]  # only in the aborted run
    assert [x for x, _ in points["standby_current"]] == [1, 2, 3, 4, 5]
    for pts in ([(1, 1.0), (2, 2.0)], [(1, 3.3)], points["fill_time"]):
        fig = trend_figure("x", pts, 0, 5, "V")
        fig.canvas.draw()
        ax = fig.axes[0]
        low, high = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if low <= t <= high]
        assert ticks and all(t == int(t) for t in ticks), ticks


def _chromium(tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("chromium")
    assert exe, "chromium not found: apt-get install -y --no-install-recommends chromium"
    return subprocess.run(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}", *args,
         page.as_uri()], capture_output=True, text=True)


def test_the_report_fits_a_1280_px_screen_in_chromium(store, tmp_path):
    out = tmp_path / "report.html"
    res = subprocess.run([sys.executable, "-m", "harness", "report", f"--db={store}",
                          f"--out={out}"], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    html = out.read_text()
    assert NODEID in html and "x" * 600 in html  # the long node id and message are there
    # the page as Chromium lays it out at 1280 px: the widths once everything has loaded
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</body>", (
        "<script>addEventListener('load', () => { const d = document.documentElement; "
        "document.body.dataset.layout = [d.scrollWidth, d.clientWidth, d.scrollHeight, "
        "Math.max(...[...document.querySelectorAll('table')].map(t => t.getBoundingClientRect()"
        ".right))].join(' '); });</script></body>")))
    dom = _chromium(tmp_path, probe, f"--window-size={WIDTH},900", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r'data-layout="(\d+) (\d+) (\d+) ([\d.]+)"', dom.stdout)
    assert found, dom.stdout[-2000:]
    scroll, client, height, right = (float(v) for v in found.groups())
    assert client == WIDTH  # laid out for a 1280 px wide window
    assert scroll <= WIDTH and right <= WIDTH, (scroll, right)  # no horizontal scrolling
    # the screenshot: the top of the page (totals, capability, trends, the first units)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    shot = _chromium(tmp_path, out, f"--window-size={WIDTH},{min(int(height), 2600)}",
                     f"--screenshot={SCREENSHOT}")
    assert shot.returncode == 0 and SCREENSHOT.stat().st_size > 0, shot.stderr[-2000:]
    assert SCREENSHOT.read_bytes()[16:20] == WIDTH.to_bytes(4, "big")  # PNG width


# -- a store that does not exist -----------------------------------------------------------
def _harness(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, cwd=ROOT)


@pytest.mark.parametrize("where", ["missing.db", "no/such/dir/harness.db"])
def test_report_refuses_a_store_that_does_not_exist_and_creates_nothing(tmp_path, where):
    db = tmp_path / where
    res = _harness("report", f"--db=sqlite:///{db}", f"--out={tmp_path / 'r.html'}")
    assert res.returncode == 2, res.stdout + res.stderr
    assert f"record store {db} does not exist" in res.stderr
    assert list(tmp_path.iterdir()) == []  # no file, no directory, no report
    assert "--create" not in res.stderr  # the report cannot make one


def test_report_refuses_a_file_that_is_not_a_record_store_and_leaves_it_alone(tmp_path):
    other = tmp_path / "notes.db"
    other.write_bytes(b"")
    res = _harness("report", f"--db=sqlite:///{other}", "--json=1")
    assert res.returncode == 2 and f"{other}: not a harness record store" in res.stderr
    assert other.read_bytes() == b""


def test_report_refuses_a_postgresql_store_that_does_not_exist_or_holds_no_records(pg_server):
    missing = pg_server.url("no_such_records")
    res = _harness("report", f"--db={missing}", "--json=1")
    assert res.returncode == 2, res.stdout + res.stderr
    assert "no_such_records" in res.stderr and "does not exist" in res.stderr
    empty = pg_server.create_db("empty_records")
    res = _harness("report", f"--db={empty}", "--json=1")
    assert res.returncode == 2 and "holds no harness records (no schema)" in res.stderr
    engine = R.make_engine(empty)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM pg_tables WHERE schemaname = "
                                    "'public'").scalar() == 0  # nothing was created
    engine.dispose()


def test_station_run_creates_a_store_only_when_asked(tmp_path):
    results = tmp_path / "no" / "results"
    res = _harness("station", "run", "--product", "qsm-washer", f"--results={results}",
                   "W2644000901")
    assert res.returncode == 2, res.stdout + res.stderr
    assert f"record store {results / 'harness.db'} does not exist" in res.stderr
    assert "give --create to start a new record store there" in res.stderr
    assert list(tmp_path.iterdir()) == []
