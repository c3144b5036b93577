"""Stopping a station: SIGTERM and SIGINT (a terminal's Ctrl-C) of ``harness station run`` while
its units are mid-test on real QEMU chips, and SIGTERM/SIGINT of one unit's pytest. Every run
that started ends with a stored outcome — ``aborted`` with the reason — and nothing is left
behind: no process of the station's, no QEMU run directory. (SIGKILL of the station:
``test_station_sigkill.py``.)"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness import patience
from harness.station import records as R

ROOT = Path(__file__).resolve().parents[3]
WAIT = patience.factored(120.0) * patience.MAX_LOAD  # s, bound on a stop: only a hang reaches it
SERIALS = ["W2644000501", "W2644000502", "W2644000503"]

# each unit boots its chip, says so, and holds until it is stopped
HOLD = '''
import os
import time
from pathlib import Path


def test_station_signal_hold(dut):
    assert dut.identity
    Path(os.environ["HOLD_DIR"], str(os.getpid())).write_text(dut.identity)
    while True:
        time.sleep(0.05)
'''


@contextlib.contextmanager
def as_from_a_terminal():
    """Processes started inside get SIGINT as a terminal's programs do: a run without job
    control (make, CI) starts its children with SIGINT ignored, and an ignored signal stays
    ignored across exec, while a handled one is reset to its default."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


@dataclass
class Line:
    """A ``harness station run`` of :data:`SERIALS` on 2 slots, each unit holding mid-test."""

    tmp: Path
    tag: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        self.holds = self.tmp / "holds"
        self.holds.mkdir()
        self.results = self.tmp / "results"
        self.rundir = Path(tempfile.mkdtemp(prefix="sig-", dir="/tmp"))  # short socket paths
        (self.tmp / "test_hold.py").write_text(HOLD)
        self.out = self.tmp / "station.out"
        self.err = self.tmp / "station.err"
        self.db = f"sqlite:///{self.results / 'harness.db'}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Line:
        argv = [sys.executable, "-m", "harness", "station", "run", "--product", "qsm-washer",
                "--slots", "2", "--create", f"--results={self.results}",
                f"--pytest-arg={self.tmp / 'test_hold.py'}", "--pytest-arg=-k",
                "--pytest-arg=station_signal_hold", *SERIALS]
        env = dict(os.environ, HARNESS_LEASE_DIR=str(self.tmp / "leases"),
                   HARNESS_RUNDIR=str(self.rundir), HOLD_DIR=str(self.holds),
                   HARNESS_SIGNAL_TEST=self.tag)
        # a session of its own: killpg() then is what a terminal's Ctrl-C does
        with open(self.out, "wb") as out, open(self.err, "wb") as err, as_from_a_terminal():
            self.proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, env=env, start_new_session=True)
        return self

    def output(self) -> str:
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")

    def wait_holding(self, n: int = 2) -> list[int]:
        """The pids of the units once ``n`` of them are mid-test with their chip booted."""
        assert self.proc is not None
        deadline = time.monotonic() + WAIT
        while len(list(self.holds.iterdir())) < n:
            assert self.proc.poll() is None, self.output()
            assert time.monotonic() < deadline, f"units not holding after {WAIT:.0f} s"
            time.sleep(0.05)
        return sorted(int(p.name) for p in self.holds.iterdir())

    def tagged(self) -> list[str]:
        """Processes of this station (they carry its tag in their environment), alive."""
        found = []
        needle = f"HARNESS_SIGNAL_TEST={self.tag}".encode()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if needle not in (proc / "environ").read_bytes():
                    continue
                stat = (proc / "stat").read_text()
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
                found.append(f"{proc.name}: {cmd[:200]}")
        return found

    def wait_gone(self, within: float) -> None:
        """Every process of the station ends within ``within`` s."""
        deadline = time.monotonic() + within
        while self.tagged() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not self.tagged(), "leaked:\n" + "\n".join(self.tagged())

    def runs(self) -> list[dict]:
        engine = R.make_engine(self.db)
        try:
            with engine.connect() as conn:
                return R.run_rows(conn)
        finally:
            engine.dispose()

    def unit_results(self) -> list[dict]:
        return [json.loads(p.read_text())
                for p in sorted((self.results / "station").glob("*/*/result.json"))]

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.rundir, ignore_errors=True)


@pytest.fixture
def line(tmp_path):
    made = Line(tmp_path)
    yield made
    made.close()


def check_every_unit_recorded(line: Line, pids: list[int], reason: str) -> list[dict]:
    """Every unit that started has a run, ended ``aborted`` with ``reason`` (regex), its
    interrupted test step ``aborted`` too; no QEMU run directory is left."""
    runs = line.runs()
    assert sorted(r["pid"] for r in runs) == pids, runs
    for run in runs:
        assert run["outcome"] == "aborted", run
        assert re.fullmatch(reason, run["reason"]), run["reason"]
        assert run["firmware_sha256"]  # the chip had booted: the run was mid-test
    engine = R.make_engine(line.db)
    with engine.connect() as conn:
        steps = [s for r in runs for s in R.record(conn, r["id"])["steps"]]
    engine.dispose()
    assert [(s["outcome"], bool(re.fullmatch(reason, s["message"] or ""))) for s in steps] \
        == [("aborted", True)] * len(runs)
    results = line.unit_results()
    assert sorted(r["run_id"] for r in results) == sorted(r["id"] for r in runs)
    assert all(r["outcome"] == "aborted" for r in results), results
    assert list(line.rundir.iterdir()) == []  # every QEMU's run dir removed
    return runs


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT"])
def test_a_signalled_station_stops_its_units_and_records_why(line, how):
    sig = signal.Signals[how]
    line.start()
    pids = line.wait_holding()
    assert line.proc is not None
    if sig == signal.SIGINT:
        os.killpg(line.proc.pid, sig)  # Ctrl-C on the station's terminal
    else:
        line.proc.send_signal(sig)
    rc = line.proc.wait(WAIT)
    out = line.output()
    assert rc == 128 + sig, out
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out
    said = "SIGINT (Ctrl-C) from the operator" if sig == signal.SIGINT else \
        "SIGTERM from the operator"
    assert f"stopping: {said}; no further unit starts" in out
    assert f"stopped: {said}; not tested: 1 ({SERIALS[2]})" in out, out
    assert len(re.findall(r"^ABORTED W26440005", out, re.M)) == 2, out
    # the station waited for its units: nothing of it runs any more
    line.wait_gone(patience.limit("process_exit"))
    check_every_unit_recorded(line, pids, re.escape(f"station stopped: {said}"))


INNER = '''
import os
import time
from pathlib import Path


def test_first(measure):
    measure("level", 41.0, "mm")


def test_holds_until_stopped(measure):
    measure("level", 42.0, "mm")
    Path(os.environ["HOLD_FILE"]).write_text("")
    while True:
        time.sleep(0.05)


def test_never_reached(measure):
    measure("level", 43.0, "mm")
'''

LIMITS = """product: demo
version: "7"
limits:
  - {name: level, low: 30, high: 60, unit: mm, marginal: 1}
"""


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT"])
def test_a_signalled_unit_records_aborted_and_exits_cleanly(store_url, tmp_path, how):
    """One unit's pytest (no station) stopped by a signal: aborted, saying which."""
    sig = signal.Signals[how]
    (tmp_path / "test_inner.py").write_text(INNER)
    (tmp_path / "limits.yaml").write_text(LIMITS)
    hold = tmp_path / "holding"
    with as_from_a_terminal():
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "test_inner.py", "-q", "-p", "no:cacheprovider",
             "--rootdir", str(tmp_path), "-c", os.devnull, "--serial=W2644000778",
             f"--db={store_url}", f"--limits={tmp_path / 'limits.yaml'}", "--station=sig-test",
             f"--results={tmp_path / 'results'}"],
            cwd=tmp_path, env=dict(os.environ, HOLD_FILE=str(hold)),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        while not hold.exists():
            assert proc.poll() is None, proc.stdout.read().decode()  # type: ignore[union-attr]
            time.sleep(0.02)
        proc.send_signal(sig)
        out = proc.communicate(timeout=WAIT)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    said = "SIGINT (Ctrl-C) from the operator" if sig == signal.SIGINT else \
        "SIGTERM from the operator"
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out
    assert "Traceback" not in out and f"station run ABORTED: {said}" in out, out
    engine = R.open_store(store_url)
    with engine.connect() as conn:
        (run,) = R.run_rows(conn)
        rec = R.record(conn, run["id"])
    engine.dispose()
    assert (run["outcome"], run["reason"], run["tests"], run["failed"]) == \
        ("aborted", said, 2, 0)
    assert [(s["nodeid"].split("::")[1], s["outcome"], s["message"]) for s in rec["steps"]] \
        == [("test_first", "passed", ""), ("test_holds_until_stopped", "aborted", said)]
    assert [m["value"] for s in rec["steps"] for m in s["measurements"]] == [41.0, 42.0]
    result = json.loads((tmp_path / "results" / "result.json").read_text())
    assert (result["outcome"], result["reason"], result["run_id"]) == \
        ("aborted", said, run["id"])
