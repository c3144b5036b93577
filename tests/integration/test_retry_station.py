"""--retry with --serial: each attempt of a retried test is a step of the record, numbered;
a test that passes after failing is stored flaky, and the unit's run still passes."""

import json
import os
import subprocess
import sys
from pathlib import Path

from harness.station import records as R

INNER = '''
from pathlib import Path

def attempt(name):
    f = Path(__file__).parent / f"{name}.attempts"
    n = int(f.read_text()) + 1 if f.exists() else 1
    f.write_text(str(n))
    return n

def test_flaky(measure):
    n = attempt("flaky")
    # out of limits on the first attempt only, without stopping the test: the failure is
    # deferred to its end and must not leak into the next attempt
    measure("level", 70.0 if n == 1 else 45.0, "mm", stop=False)

def test_passes(measure):
    measure("level", 40.0, "mm")
'''

ALWAYS = '''
def test_always_fails(measure):
    measure("level", 99.0, "mm")
'''

LIMITS = """product: demo
version: "1"
limits:
  - {name: level, low: 30, high: 60, unit: mm}
"""


def _unit_run(tmp_path: Path, inner: str):
    """One unit's run with --retry 2; returns (pytest's process, run row, record, results)."""
    (tmp_path / "test_inner.py").write_text(inner)
    (tmp_path / "limits.yaml").write_text(LIMITS)
    url = f"sqlite:///{tmp_path / 'records.db'}"
    results = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "test_inner.py", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), "-c", os.devnull, "--serial=W2644000042", f"--db={url}",
         f"--limits={tmp_path / 'limits.yaml'}", f"--results={results}", "--retry", "2"],
        cwd=tmp_path, capture_output=True, text=True)
    engine = R.open_store(url)
    with engine.connect() as conn:
        (run,) = R.run_rows(conn)
        rec = R.record(conn, run["id"])
    engine.dispose()
    return proc, run, rec, results


def test_a_flaky_test_is_stored_flaky_with_its_attempts(tmp_path: Path):
    proc, run, rec, results = _unit_run(tmp_path, INNER)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed, 1 rerun, 1 flaky" in proc.stdout
    assert run["outcome"] == "pass" and (run["tests"], run["failed"], run["errors"]) == (2, 0, 0)
    steps = [(s["nodeid"].split("::")[-1], s["attempt"], s["outcome"]) for s in rec["steps"]]
    assert steps == [("test_flaky", 1, "failed"), ("test_flaky", 2, "flaky"),
                     ("test_passes", 1, "passed")]
    first, second = rec["steps"][0], rec["steps"][1]
    assert "level" in first["message"] and second["message"] == ""
    assert [(m["value"], m["outcome"]) for m in first["measurements"]] == [(70.0, "fail")]
    assert [(m["value"], m["outcome"]) for m in second["measurements"]] == [(45.0, "pass")]

    result = json.loads((results / "result.json").read_text())
    assert (result["outcome"], result["passed"], result["flaky"], result["failed"]) == \
        ("pass", 1, 1, 0)
    events = [json.loads(line) for line in (results / "progress.jsonl").read_text().splitlines()]
    assert [(e["event"], e.get("outcome")) for e in events if e.get("nodeid", "").endswith(
        "test_flaky")] == [("step", None), ("measurement", "fail"), ("attempt", "failed"),
                           ("measurement", "pass"), ("test", "flaky")]


def test_a_test_failing_every_attempt_is_stored_failed_each_time(tmp_path: Path):
    proc, run, rec, results = _unit_run(tmp_path, ALWAYS)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert run["outcome"] == "fail" and (run["tests"], run["failed"]) == (1, 1)
    assert [(s["attempt"], s["outcome"]) for s in rec["steps"]] == [
        (1, "failed"), (2, "failed"), (3, "failed")]
    assert all("level = 99 mm: FAIL" in s["message"] for s in rec["steps"])
    assert [len(s["measurements"]) for s in rec["steps"]] == [1, 1, 1]
