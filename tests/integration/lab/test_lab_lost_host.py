"""A bench host dies in the middle of a run on the lab: its exporter, chips, instruments and
probe servers are SIGKILLed. The tests on that host's places ERROR, naming the place and what
it lost; the tests on the other host pass; no place stays acquired and no reservation is
left."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from harness import patience
from harness.lab.client import LabClient
from harness.lab.procs import gone, tree
from harness.lab.state import LabState
from tests.integration.lab.test_lab_run import ROOT, _harness


def _kill_host(lab_dir: Path, host: int) -> list[str]:
    """SIGKILL every process of bench host ``host`` (exporter, chips, instruments, probe
    servers)."""
    state = LabState.load(lab_dir)
    assert state is not None
    mine = [p for p in state.procs if p.role.startswith((f"host-{host} ", f"bench-{host}-"))]
    # an exporter, 2 x (chip, instruments, probe server)
    assert len(mine) == 7, [p.role for p in state.procs]
    pids = [pid for p in mine for pid in tree(p.pid)]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + patience.limit(10)
    while not all(gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [p.role for p in mine]


def _acquired(address: str) -> set[str]:
    with LabClient(address) as client:
        client.refresh(0)
        return {name for name, p in client.places.items() if p.acquired}


def test_a_lost_host_errors_its_tests_and_the_rest_pass(tmp_path):
    lab_dir = tmp_path / "lab"
    up = _harness("lab", "up", "2", "--benches", "2", "--dir", str(lab_dir), timeout=600)
    address = up.stdout.split("coordinator ", 1)[1].split()[0]
    out = tmp_path / "run"
    proc = None
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/acceptance/washer",
             "-n", "4", f"--lab={address}", "--lab-tags=chip=qsm-washer",
             f"--results={out}", f"--junitxml={out / 'junit.xml'}"],
            cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=dict(os.environ, HARNESS_LEASE_DIR=str(tmp_path / "leases")),
            start_new_session=True)  # its workers too are stopped if a check below fails
        deadline = time.monotonic() + patience.limit(180)
        while _acquired(address) != {"bench-1-1", "bench-1-2", "bench-2-1", "bench-2-2"}:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout
            time.sleep(0.5)
        time.sleep(2)  # the workers are testing
        killed = _kill_host(lab_dir, 2)
        text, _ = proc.communicate(timeout=patience.limit(600))
        assert proc.returncode == 1, text  # errors, not a crash of the run
        by_place: dict[str, list[tuple[str, str]]] = {}
        bad: dict[str, list[str]] = {}  # place -> what did not pass there, and why
        for case in ET.parse(out / "junit.xml").iter("testcase"):
            props = {p.get("name"): p.get("value") for p in case.iter("property")}
            outcome = ("error" if case.find("error") is not None else
                       "failed" if case.find("failure") is not None else
                       "skipped" if case.find("skipped") is not None else "passed")
            place = props.get("lab_place", "?")
            by_place.setdefault(place, []).append((outcome, props.get("lab_lost", "")))
            if outcome in ("error", "failed"):
                said = case.find("error" if outcome == "error" else "failure")
                why = (said.get("message") or "") if said is not None else ""
                bad.setdefault(place, []).append(f"{case.get('name')}: {outcome}: {why[:300]}")
        for place in ("bench-1-1", "bench-1-2"):
            assert {o for o, _ in by_place[place]} <= {"passed", "skipped"}, \
                (place, bad.get(place), killed)
        lost = [(o, why) for place in ("bench-2-1", "bench-2-2") for o, why in by_place[place]
                if o != "passed"]
        assert lost and {o for o, _ in lost} <= {"error", "failed"}, by_place
        assert all("bench-2-" in why and "lost" in why and "probe (PyOCDServer)" in why
                   for _, why in lost), lost
        assert _acquired(address) == set()  # every worker released its place
        status = _harness("lab", "status", f"--lab={address}").stdout
        assert "waiting" not in status and "allocated" not in status, status
    finally:
        if proc is not None and proc.poll() is None:  # a failed check: it must not outlive us
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
        _harness("lab", "down", "--dir", str(lab_dir), check=False)
