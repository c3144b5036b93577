import multiprocessing
from pathlib import Path

import pytest
import yaml

from harness.bench import NoFreeResource, lease, lease_first, load_bench
from harness.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_emulated_bench_loads():
    b = load_bench(ROOT / "targets" / "benches" / "emulated.yaml")
    assert b.slots == [1, 2, 3, 4]
    assert [p.uid for p in b.probes_for("qsm-washer", slot=2)] == ["qemu:auto"]


def test_bad_bench_names_file_and_field(tmp_path):
    p = tmp_path / "b.yaml"
    p.write_text(yaml.safe_dump({"name": "x", "probes": [{"uid": "u1", "slot": 0}]}))
    with pytest.raises(ConfigError, match=r"(?s)b\.yaml.*probes\.0\.slot"):
        load_bench(p)
    p.write_text(yaml.safe_dump({"name": "x", "instruments": [
        {"name": "psu1", "kind": "psu", "resource": "TCPIP::1.2.3.4::5025::SOCKET"}]}))
    with pytest.raises(ConfigError, match="(?s)psu1.*safety limits"):
        load_bench(p)


def _hold(key, ready, release, lease_dir):
    import os

    os.environ["HARNESS_LEASE_DIR"] = lease_dir
    with lease(key):
        ready.set()
        release.wait(5)


def test_lease_is_exclusive_across_processes_and_fails_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_LEASE_DIR", str(tmp_path))
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold, args=("probe-A", ready, release, str(tmp_path)))
    p.start()
    try:
        assert ready.wait(10)
        with pytest.raises(NoFreeResource, match="probe-A"), lease("probe-A"):
            pass
        with lease_first(["probe-A", "probe-B"], "probe matching qsm-washer") as got:
            assert got == "probe-B"
        with pytest.raises(NoFreeResource, match="no free probe matching x: all of probe-A"), \
                lease_first(["probe-A"], "probe matching x"):
            pass
    finally:
        release.set()
        p.join(10)
    with lease("probe-A"):
        pass
