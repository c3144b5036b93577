"""SIGKILL in the middle of a run keeps every measurement committed before it, and the next
station start closes the killed run as ``aborted (lost)``; SIGKILL of the station itself
takes its units down with it, each recording ``aborted`` first."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.station import records as R
from harness.station.product import load_product
from harness.station.station import Station, stop_grace
from tests.integration.station.test_station_signals import Line, check_every_unit_recorded

ROOT = Path(__file__).resolve().parents[3]

INNER = '''
import itertools, os

def test_measures_until_killed(measure):
    for i in itertools.count():
        measure("level", 40.0 + (i % 7), "mm")
        # only after measure() returned: this value must be in the database
        with open(os.environ["DONE_FILE"], "a") as fh:
            fh.write(f"{i}\\n")
'''

LIMITS = """product: demo
version: "7"
limits:
  - {name: level, low: 30, high: 60, unit: mm, marginal: 1}
"""


def test_sigkill_mid_run_keeps_every_measurement(store_url, tmp_path: Path, monkeypatch):
    (tmp_path / "test_inner.py").write_text(INNER)
    (tmp_path / "limits.yaml").write_text(LIMITS)
    done = tmp_path / "done.txt"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "test_inner.py", "-q", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), "-c", os.devnull, "--serial=W2644000777",
         f"--db={store_url}", f"--limits={tmp_path / 'limits.yaml'}", "--station=kill-test",
         f"--results={tmp_path / 'results'}"],
        cwd=tmp_path, env=dict(os.environ, DONE_FILE=str(done)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        while not done.exists() or len(done.read_text().splitlines()) < 50:
            assert proc.poll() is None, proc.stdout.read().decode()
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    confirmed = len(done.read_text().splitlines())
    engine = R.open_store(store_url)
    with engine.connect() as conn:
        (run,) = R.run_rows(conn)
        rec = R.record(conn, run["id"])
    engine.dispose()
    values = [m["value"] for m in rec["steps"][0]["measurements"]]
    # every value confirmed by the test is there, in order; at most the one being written
    # when the signal came may follow
    assert confirmed >= 50
    assert values[:confirmed] == [40.0 + (i % 7) for i in range(confirmed)]
    assert len(values) - confirmed in (0, 1)
    assert run["outcome"] == "aborted" and run["limits_version"] == "7"
    assert rec["steps"][0]["outcome"] == "aborted"

    # the next station start closes the run its dead process left open
    monkeypatch.setenv("HARNESS_LEASE_DIR", str(tmp_path / "leases"))
    events: list[tuple[str, dict]] = []
    Station(load_product("qsm-washer", ROOT / "targets"), [1], store_url, "kill-test", "op",
            tmp_path / "station", None, listener=lambda e, d: events.append((e, d))).run([])
    assert events == [("lost-runs", {"runs": [run["id"]]})]
    engine = R.open_store(store_url)
    with engine.connect() as conn:
        (run,) = R.run_rows(conn)
    engine.dispose()
    assert run["outcome"] == "aborted (lost)" and str(proc.pid) in run["reason"]


def test_sigkill_of_the_station_takes_its_units_down_each_recording_why(tmp_path: Path):
    """The units get SIGTERM from the kernel as the station dies (parent-death signal): they
    record ``aborted``, stop their chips and exit; nothing of the station is left."""
    line = Line(tmp_path).start()
    try:
        pids = line.wait_holding()
        assert line.proc is not None
        station = line.proc.pid
        line.proc.send_signal(signal.SIGKILL)
        assert line.proc.wait() == -signal.SIGKILL
        # the units end by themselves, within the grace the station would have given them
        line.wait_gone(stop_grace())
        check_every_unit_recorded(line, pids, re.escape(f"the station (pid {station}) died"))
        # with its station gone, a unit wrote its further output to its pytest.log itself
        for log in (line.results / "station").glob("*/*/pytest.log"):
            assert f"station run ABORTED: the station (pid {station}) died" in log.read_text()
    finally:
        line.close()
