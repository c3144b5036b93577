"""One run configuration: every path and option the harness plugins use, derived once.

``RunSettings.from_config`` runs in ``pytest_configure``; the result is frozen and kept in the
config's stash, so the core plugin, the station, the instruments, the RTL fixtures and the C
test collector all see the same root, results, targets and bench — nobody derives them again.
Only the standard library is imported here: the plugin's start-up cost stays near zero.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

    from .bench import Bench

DEFAULT_BENCH = "targets/benches/emulated.yaml"


def parse_firmware_option(values: list[str]) -> dict[str, Path]:
    """``--firmware PATH`` (any target) or ``--firmware TARGET=PATH``."""
    out: dict[str, Path] = {}
    for v in values:
        name, sep, path = v.partition("=")
        if sep and not Path(v).exists():
            out[name] = Path(path)
        else:
            out["*"] = Path(v)
    return out


def safe_name(text: str) -> str:
    """A file-name-safe rendering of a test id or DUT name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:150]


@dataclass(frozen=True)
class RunSettings:
    root: Path
    targets_dir: Path
    results: Path
    world: str = "qemu"
    # target name ('*': any target) → image path given with --firmware
    firmware: Mapping[str, Path] = field(default_factory=lambda: MappingProxyType({}))
    dut_scope: str = "function"
    dut_reuse: str = "reset"
    # --chip-time: "on" (chips on icount; a target that cannot is refused), "off", or "auto"
    # (on for each target that can have it: the default)
    chip_time: str = "auto"
    timeout_factor: float = 1.0
    build: bool = True
    probe: str | None = None
    bench_path: Path | None = None  # None: no inventory file (emulated bench defaults)
    slot: int = 1
    worker: str = "main"  # pytest-xdist worker id, "main" without xdist
    requested_targets: tuple[str, ...] = ()  # --target, else ini harness_targets

    @classmethod
    def from_config(cls, config: pytest.Config) -> RunSettings:
        root = Path(config.rootpath)
        opt = config.getoption
        results = opt("results")
        bench_opt = opt("bench")
        if bench_opt:
            bench_path: Path | None = Path(bench_opt)
        else:
            ini = config.getini("harness_bench")
            ini_bench = root / ini
            # the default inventory is optional: a repo without one gets the emulated bench;
            # one named in the ini file must exist (load_bench says which file is missing)
            explicit = ini != DEFAULT_BENCH
            bench_path = ini_bench if explicit or ini_bench.exists() else None
        workerinput: dict[str, Any] = getattr(config, "workerinput", {})
        worker = workerinput.get("workerid", "main")
        slot = opt("slot")
        if slot is None:
            slot = int(worker[2:]) + 1 if worker.startswith("gw") else 1
        return cls(
            root=root,
            targets_dir=root / config.getini("harness_targets_dir"),
            results=Path(results) if results else root / config.getini("harness_results"),
            world=opt("world"),
            firmware=MappingProxyType(parse_firmware_option(opt("firmware"))),
            dut_scope=opt("dut_scope"),
            dut_reuse=opt("dut_reuse"),
            chip_time=opt("chip_time"),
            timeout_factor=opt("timeout_factor"),
            build=not opt("no_build"),
            probe=opt("probe"),
            bench_path=bench_path,
            slot=slot,
            worker=worker,
            requested_targets=tuple(opt("target") or config.getini("harness_targets")),
        )

    @cached_property
    def known_targets(self) -> tuple[str, ...]:
        return tuple(sorted(p.stem for p in self.targets_dir.glob("*.yaml")))

    @cached_property
    def bench(self) -> Bench:
        """The bench inventory, loaded once per run; without an inventory file an empty bench
        (no instruments; the pyocd world then emulates the chip behind the qemu: probe)."""
        from .bench import Bench, load_bench

        if self.bench_path is None:
            return Bench(name="none", description="no bench inventory file")
        return load_bench(self.bench_path)

    def log_dir(self, name: str) -> Path:
        return self.results / "logs" / safe_name(name)
