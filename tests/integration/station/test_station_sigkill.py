"""SIGKILL in the middle of a run keeps every measurement committed before it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.station import records as R

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


def test_sigkill_mid_run_keeps_every_measurement(store_url, tmp_path: Path):
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
