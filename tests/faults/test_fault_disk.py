"""The results disk fills up: a small tmpfs (mounted here; needs root, as CI runs) holds the
results directory — JUnit XML, DUT and console logs, progress, the unit's ``pytest.log`` and,
where the station keeps them, the SQLite records.

Whatever write meets the full disk first, the run ends as an ERROR naming a path on that disk
and "no space left on device" — not a traceback in a thread, not a silent loss — every row
written before stays readable, and no process, QEMU, run dir or open file is left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from faultkit import ROOT, WAIT, open_fds

from harness.errors import HarnessError
from harness.station import records as R
from harness.station.product import load_product
from harness.station.station import Station

SUITE = "tests/acceptance/washer/test_measurements.py"
BENCH = ROOT / "targets/benches/emulated.yaml"
NO_SPACE = "no space left on device"


@pytest.fixture
def disk(tmp_path):
    """A fresh 8 MiB tmpfs, unmounted at the end (which fails while any process still holds
    a file there)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs the suite as root)")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", str(mnt)],
                   check=True, timeout=WAIT)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True, timeout=WAIT)


def fill(mnt: Path) -> Path:
    """Take every free block of ``mnt`` (a new page of any file then fails with ENOSPC)."""
    path = mnt / "filler"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 20, 1 << 16, 4096):
            chunk = b"\0" * size
            with contextlib.suppress(OSError):
                while os.write(fd, chunk) == size:
                    pass
    finally:
        os.close(fd)
    assert os.statvfs(mnt).f_bavail == 0
    return path


def _station(results: Path, db: str, **kw) -> Station:
    product = load_product("qsm-washer", ROOT / "targets").model_copy(update={"suite": [SUITE]})
    return Station(product, [1], db, "disk-fault", "tester", results, BENCH, **kw)


@pytest.mark.parametrize("records", ["on-the-disk", "elsewhere"])
def test_a_results_disk_that_fills_mid_run_ends_it_as_an_error_naming_the_path(
        env, disk, tmp_path, monkeypatch, records):
    """The SQLite records on the full disk too (the station's default), or elsewhere: then
    a DUT log, a console log, the progress or the JUnit XML meets the full disk first, and
    the record still takes the run's end."""
    monkeypatch.setenv("HARNESS_LEASE_DIR", str(tmp_path / "leases"))
    db = f"sqlite:///{(disk if records == 'on-the-disk' else tmp_path) / 'harness.db'}"
    first = threading.Event()

    def listener(event: str, data: dict) -> None:
        if event == "progress" and data.get("event") == "test" and not first.is_set():
            first.set()
            fill(disk)  # the unit is between its first and second test

    summary = _station(disk, db, listener=listener).run(["W2644000931"])
    assert first.is_set(), "the unit ended before its first test"
    (res,) = summary.results
    assert res.outcome == "error" and summary.exit_code == 2, res.reason
    assert NO_SPACE in res.reason.lower(), res.reason
    assert str(disk) in res.reason, res.reason  # names a path on the full disk
    assert "Traceback" not in res.reason and "INTERNALERROR" not in res.reason

    (disk / "filler").unlink()  # the operator frees space, then reads what was kept
    engine = R.open_store(db)
    with engine.connect() as conn:
        (run,) = R.run_rows(conn)
        rec = R.record(conn, run["id"])
    engine.dispose()
    assert run["serial"] == "W2644000931" and run["id"] == res.run_id
    boot = rec["steps"][0]  # ended before the disk filled: kept whole
    assert boot["nodeid"].endswith("::test_boot_to_ready_time[qsm-washer]")
    assert boot["outcome"] != "aborted"
    if boot["outcome"] == "passed":  # (a machine too loaded to boot in time: an error)
        assert [m["name"] for m in boot["measurements"]] == ["boot_to_ready"]
    if records == "elsewhere":  # the store took the end: an error, with every step's end
        assert run["outcome"] == "error" and run["tests"] == 3
        assert "aborted" not in [s["outcome"] for s in rec["steps"]]
    else:  # the store is on the full disk: no end row could be written
        assert run["outcome"] == "aborted"
    assert env.leaks() == []
    assert [f for f in open_fds() if f.startswith(str(disk))] == []


def test_a_results_disk_that_is_full_starts_no_unit(env, disk, tmp_path, monkeypatch):
    """Full after one unit: the next is not started; full at the start: no station run."""
    monkeypatch.setenv("HARNESS_LEASE_DIR", str(tmp_path / "leases"))
    db = f"sqlite:///{disk / 'harness.db'}"

    def listener(event: str, data: dict) -> None:
        if event == "end" and not (disk / "filler").exists():
            fill(disk)

    summary = _station(disk, db, listener=listener, extra_args=["-k", "boot_to_ready"]).run(
        ["W2644000932", "W2644000933"])
    first, second = summary.results
    assert first.outcome == "pass", first.reason
    assert second.outcome == "error" and second.returncode is None
    assert second.reason == f"not started: {disk}: {NO_SPACE}"
    assert len(list((disk / "station").iterdir())) == 1  # no directory for the second unit

    with pytest.raises(HarnessError) as err:
        _station(disk, db).run(["W2644000934"])
    assert str(err.value) == f"results directory {disk}: {NO_SPACE}"
    assert env.leaks() == []
    assert [f for f in open_fds() if f.startswith(str(disk))] == []


INNER = '''
def test_one(measure):
    measure("level", 41.0, "mm")

def test_two(measure):
    measure("level", 42.0, "mm")
'''

LIMITS = """product: demo
version: "1"
limits:
  - {name: level, low: 30, high: 60, unit: mm, marginal: 1}
"""


def test_a_unit_run_on_a_full_results_disk_says_so_and_records_the_error(env, disk, tmp_path):
    """Outside a station: ``pytest --serial`` with its results and JUnit XML on the full disk,
    the records elsewhere. The run ends as an error saying which path is full; the record says
    error; the result, which cannot be written, is printed."""
    (tmp_path / "test_inner.py").write_text(INNER)
    (tmp_path / "limits.yaml").write_text(LIMITS)
    db = f"sqlite:///{tmp_path / 'records.db'}"
    results = disk / "results"
    results.mkdir()
    fill(disk)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "test_inner.py", "-q", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), "-c", os.devnull, "--serial=W2644000933", f"--db={db}",
         f"--limits={tmp_path / 'limits.yaml'}", f"--results={results}",
         f"--junitxml={results / 'junit.xml'}"],
        cwd=tmp_path, env=env.environ, capture_output=True, text=True, timeout=WAIT * 2)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "INTERNALERROR" not in out and "Traceback" not in out, out
    assert f"station run ERROR: results disk full: {results}" in out, out
    assert NO_SPACE in out.lower()
    line = next(ln for ln in out.splitlines() if ln.startswith("harness-station-result:"))
    result = json.loads(line.split(":", 1)[1])
    assert result["outcome"] == "error" and NO_SPACE in result["reason"].lower()
    assert not (results / "result.json").exists()

    engine = R.open_store(db)
    with engine.connect() as conn:
        (run,) = R.run_rows(conn)
        rec = R.record(conn, run["id"])
    engine.dispose()
    assert run["outcome"] == "error" and run["id"] == result["run_id"]
    assert run["errors"] == 2 and run["tests"] == 2
    # the tests did not run unrecorded: each says why it was not run
    assert [s["outcome"] for s in rec["steps"]] == ["error", "error"]
    assert all("not tested: results disk full" in s["message"] for s in rec["steps"])
    assert rec["steps"][0]["measurements"] == []
    assert env.leaks() == []
    assert [f for f in open_fds() if f.startswith(str(disk))] == []
