"""Every board a profile calls 'ok' is proven by a smoke or acceptance suite that runs on it in
both worlds (tests/integration/test_foreign_firmware.py, tests/acceptance), and `harness boards`
accounts for every Cortex-M machine of the installed QEMU."""

import subprocess
import sys
from pathlib import Path

import yaml

from harness.cli import CORTEX_M_MACHINES, board_rows
from harness.config import board_profiles

ROOT = Path(__file__).resolve().parents[2]
TARGET_DIRS = [ROOT / "targets", ROOT / "tests" / "foreign" / "targets"]


def _boards_run_by_targets() -> set[str]:
    out = set()
    for directory in TARGET_DIRS:
        for path in directory.glob("*.yaml"):
            raw = yaml.safe_load(path.read_text())
            if raw.get("board"):
                out.add(raw["board"])
    return out


def test_every_ok_board_has_a_target_that_runs_on_it():
    proven = _boards_run_by_targets()
    claimed = {m for m, p in board_profiles().items() if "ok" in p.worlds.values()}
    assert claimed <= proven, f"boards called ok without a suite: {sorted(claimed - proven)}"


def test_every_core_type_is_covered():
    cpus = {board_profiles()[b].cpu for b in _boards_run_by_targets()}
    assert {"cortex-m0", "cortex-m3", "cortex-m4", "cortex-m4f", "cortex-m7", "cortex-m33",
            "cortex-m55"} <= cpus


def test_harness_boards_lists_every_cortex_m_machine_with_a_status():
    rows = {r[0]: r for r in board_rows()}
    assert set(CORTEX_M_MACHINES) <= set(rows)
    for machine, _cpu, qemu, pyocd in rows.values():
        assert qemu and pyocd, machine
    out = subprocess.run([sys.executable, "-m", "harness", "boards"], capture_output=True,
                         text=True, check=True).stdout
    for machine in CORTEX_M_MACHINES:
        assert machine in out
    assert "musca-b1" in out and "no board profile yet" in out  # said, not hidden
