"""pyproject.toml's extras, harness/extras.py's table and what the modules import agree.

Static checks (no install): every third-party import of a module is declared by the core or by
the extra the module belongs to, and the table names the extras pyproject.toml declares.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import tomllib
import types
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement

from harness import extras

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# extras that bundle others or serve the project's own development
BUNDLES = {"all", "test", "lint"}
# which extra a module belongs to, by path; the rest is the core
MODULE_EXTRA = [
    ("harness/backends/cocotb/", "rtl"),
    ("harness/backends/pyocd", "pyocd"),
    ("harness/probes/", "pyocd"),
    ("harness/instruments/", "instruments"),
    ("harness/diag/", "diag"),
    ("harness/station/panel/", "web"),
    ("harness/lab/", "lab"),
    ("harness/station/", "station"),
]
# a core module's import of an extra's library, made only on that extra's path
LAZY_IN_CORE = {
    # SerialSettings.visa_attributes: called by the instruments' pool for ASRL resources
    ("harness/bench.py", "PyVISA"): "instruments",
}
# imported directly, installed by the named requirement
COMES_WITH = {"pydantic-core": "pydantic",
              "grpcio": "labgrid",  # labgrid's client speaks gRPC
              # labgrid's fork of pyserial, installed with it: the same `serial` package
              "pyserial-labgrid": "pyserial"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(extra: str | None) -> set[str]:
    reqs = PROJECT["dependencies"] if extra is None else PROJECT["optional-dependencies"][extra]
    return {_norm(Requirement(r).name) for r in reqs}


def _extra_of(path: str) -> str | None:
    return next((extra for prefix, extra in MODULE_EXTRA if path.startswith(prefix)), None)


def _third_party_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "harness"}


def test_every_import_is_declared_by_the_core_or_the_modules_extra():
    dists = packages_distributions()
    core = _requirements(None)
    missing = []
    for path in sorted((ROOT / "harness").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        extra = _extra_of(rel)
        declared = core | (_requirements(extra) if extra else set())
        for module in sorted(_third_party_imports(path)):
            assert module in dists, f"{rel} imports {module}, which no installed package provides"
            for dist in dists[module]:
                lazy = LAZY_IN_CORE.get((rel, dist))
                name = _norm(COMES_WITH.get(_norm(dist), dist))
                if name in declared or (lazy and name in _requirements(lazy)):
                    continue
                missing.append(f"{rel}: imports {module} ({dist}), not declared by "
                               f"{'the core' if extra is None else 'the core or [' + extra + ']'}")
    assert not missing, "\n".join(missing)


def test_table_names_the_declared_extras():
    declared = set(PROJECT["optional-dependencies"]) - BUNDLES
    assert set(extras.EXTRAS) - {"core"} == declared


def test_all_bundles_every_extra_and_test_needs_all():
    optional = PROJECT["optional-dependencies"]
    (bundle,) = (Requirement(r) for r in optional["all"])
    assert (_norm(bundle.name), bundle.extras) == ("qsm-harness", set(extras.EXTRAS) - {"core"})
    assert "qsm-harness[all]" in optional["test"]


def test_each_extra_is_detected_by_a_module_it_installs():
    dists = packages_distributions()
    for name, extra in extras.EXTRAS.items():
        if extra.requires is None:
            continue
        providers = {_norm(d) for d in dists.get(extra.requires, [])}
        assert providers & _requirements(name), (
            f"[{name}] is detected by module {extra.requires!r}, which none of its "
            f"requirements {sorted(_requirements(name))} provides")


def test_plugin_modules_exist_and_one_pytest11_entry_point():
    for extra in extras.EXTRAS.values():
        for module in extra.plugins.values():
            assert importlib.util.find_spec(module) is not None, module
    assert PROJECT["entry-points"]["pytest11"] == {"harness": "harness.plugin"}
    assert PROJECT["entry-points"]["pyocd.probe"] == {
        "qemu": "harness.probes.plugin:QemuProbePlugin"}


def test_register_skips_missing_and_blocked_extras(monkeypatch):
    registered: dict[str, types.ModuleType] = {}

    class Manager:
        def is_blocked(self, name):
            return name == "harness-diag"

        def has_plugin(self, name):
            return name in registered

        def is_registered(self, plugin):
            return plugin in registered.values()

        def register(self, plugin, name):
            registered[name] = plugin

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "cocotb" else real_find_spec(name, *a))
    assert sorted(extras.register(Manager())) == [  # type: ignore[arg-type]
        "harness-coverage", "harness-ctest", "harness-instruments", "harness-lab",
        "harness-retry", "harness-shard", "harness-station"]
    assert registered["harness-ctest"].__name__ == "harness.ctest.pytest_plugin"
