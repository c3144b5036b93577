"""Tests on places of a lab: an emulated lab of 2 hosts x 2 benches (``harness lab up``, real
labgrid coordinator and exporters, ``pyocd server`` per probe, ser2net per console), and pytest
runs that reserve, acquire and release places through ``--lab``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness import patience

ROOT = Path(__file__).resolve().parents[3]
# the washer's shell and boot-time tests: the console and the probe of the place
SELECT = "test_shell or test_boot_to_ready"


def _harness(*args: str, check: bool = True, timeout: float = 300,
             env: dict | None = None) -> subprocess.CompletedProcess:
    res = subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, text=True,
                         capture_output=True, timeout=patience.limit(timeout),
                         env=dict(os.environ, **(env or {})))
    if check and res.returncode:
        raise AssertionError(f"harness {' '.join(args)} exited {res.returncode}:\n"
                             f"{res.stdout}{res.stderr}")
    return res


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    d = tmp_path_factory.mktemp("lab")
    up = _harness("lab", "up", "2", "--benches", "2", "--dir", str(d), timeout=600)
    address = re.search(r"coordinator (\S+)", up.stdout)
    assert address, up.stdout
    try:
        yield address.group(1), d
    finally:
        _harness("lab", "down", "--dir", str(d), check=False)


def _run(lab_address: str, out: Path, *extra: str) -> subprocess.Popen:
    out.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/acceptance/washer",
         "-k", SELECT, f"--lab={lab_address}", "--lab-tags=chip=qsm-washer",
         f"--results={out}", f"--junitxml={out / 'junit.xml'}", *extra],
        cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env=dict(os.environ, HARNESS_LEASE_DIR=str(out / "leases")))


def _places(junit: Path) -> dict[str, set[str]]:
    """place → test ids run on it, from the JUnit properties."""
    out: dict[str, set[str]] = {}
    for case in ET.parse(junit).iter("testcase"):
        for prop in case.iter("property"):
            if prop.get("name") == "lab_place":
                out.setdefault(prop.get("value", ""), set()).add(
                    f"{case.get('classname')}::{case.get('name')}")
    return out


def test_four_workers_run_on_the_four_places(lab, tmp_path):
    address, _ = lab
    proc = _run(address, tmp_path / "a", "-n", "4")
    out, _ = proc.communicate(timeout=patience.limit(600))
    assert proc.returncode == 0, out
    places = _places(tmp_path / "a" / "junit.xml")
    assert sorted(places) == ["bench-1-1", "bench-1-2", "bench-2-1", "bench-2-2"], places
    status = _harness("lab", "status", f"--lab={address}")
    assert "acquired" not in status.stdout.split("reservations")[0].replace("acquired: -", ""), \
        status.stdout  # every place released


def test_a_places_instruments_measure_its_chip(lab, tmp_path):
    """The washer's power tests on a place: the supply, meter and counter the place publishes
    (virtual LXI instruments on the bench host, wired to that bench's chip) are the run's; none
    is skipped, and each JUnit identity names the resource the lab's state gives that place."""
    address, lab_dir = lab
    out = tmp_path / "p"
    out.mkdir()
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
         "tests/acceptance/washer/test_power.py", "-rs", f"--lab={address}",
         "--lab-tags=chip=qsm-washer", f"--results={out}", f"--junitxml={out / 'junit.xml'}"],
        cwd=ROOT, text=True, capture_output=True, timeout=patience.limit(600),
        env=dict(os.environ, HARNESS_LEASE_DIR=str(out / "leases")))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "skipped" not in res.stdout.splitlines()[-1], res.stdout
    benches = {b["place"]: b["instruments"]
               for b in json.loads((lab_dir / "lab.json").read_text())["benches"]}
    (place,) = _places(out / "junit.xml")
    props = {p.get("name"): p.get("value", "")
             for p in ET.parse(out / "junit.xml").iter("property")}
    for kind in ("psu", "dmm", "counter"):
        assert props[f"instrument.{kind}"].endswith(f"at {benches[place][kind]}"), props


def test_two_runs_at_once_never_share_a_place(lab, tmp_path):
    address, _ = lab
    runs = [_run(address, tmp_path / name, "-n", "2") for name in ("a", "b")]
    outs = [p.communicate(timeout=patience.limit(600))[0] for p in runs]
    for p, out in zip(runs, outs, strict=True):
        assert p.returncode == 0, out
    a, b = (_places(tmp_path / name / "junit.xml") for name in ("a", "b"))
    assert len(a) == 2 and len(b) == 2
    assert not set(a) & set(b), (a, b)  # 4 places, 2 workers each: never the same one


def test_no_matching_place_fails_at_once_naming_the_tags(lab, tmp_path):
    address, _ = lab
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/acceptance/washer",
         "-k", SELECT, f"--lab={address}", "--lab-tags=chip=qsm-tv", "--lab-timeout=5"],
        cwd=ROOT, text=True, capture_output=True, timeout=patience.limit(120))
    assert res.returncode == 4, res.stdout + res.stderr  # a usage error: nothing ran
    assert "no place has the tags chip=qsm-tv" in res.stderr, res.stderr


def test_station_slots_on_lab_places_write_one_postgresql_store(lab, tmp_path):
    """Two station slots, each unit on a place of the lab, one PostgreSQL store: each record
    names the station's host and the place (its bench host)."""
    from sqlalchemy import select

    from harness.station import records as R
    from tests.integration.station.conftest import PgServer

    address, _ = lab
    pg = PgServer().start()
    try:
        db = pg.create_db("fleet")
        res = _harness("station", "run", "--product=qsm-washer", "--slots=2", f"--db={db}",
                       "--create", f"--results={tmp_path / 'results'}",
                       f"--pytest-arg=--lab={address}", "--pytest-arg=--lab-tags=chip=qsm-washer",
                       "--pytest-arg=-k", f"--pytest-arg={SELECT}",
                       "W2644000701", "W2644000702", timeout=600,
                       env={"HARNESS_LEASE_DIR": str(tmp_path / "leases")})
        assert res.stdout.count("PASS") >= 2, res.stdout
        engine = R.make_engine(db)
        try:
            with engine.connect() as conn:
                rows = conn.execute(select(R.runs.c.serial, R.runs.c.host,
                                           R.run_ends.c.outcome, R.run_ends.c.instruments)
                                    .select_from(R.runs.join(
                                        R.run_ends, R.run_ends.c.run_id == R.runs.c.id))).all()
        finally:
            engine.dispose()
    finally:
        pg.stop()
    assert sorted(r.serial for r in rows) == ["W2644000701", "W2644000702"]
    for r in rows:
        assert r.outcome == "pass" and r.host
        place = json.loads(r.instruments)["lab-place"]
        assert re.fullmatch(rf"bench-\d-\d on host-\d via {re.escape(address)}", place), place
