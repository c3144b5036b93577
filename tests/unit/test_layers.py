"""The import graph of harness/ points one way: down the layer table below, without cycles.

Every ``import``/``from`` statement of every module under harness/ counts — at module level,
inside functions and under ``if TYPE_CHECKING`` — with relative imports resolved. A module
may import its own layer and the layers below it, never one above; the only way up is the
plugin's documented accessors (``harness.plugin.settings(config)`` / ``manager(config)``),
imported inside a function.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "harness"

# bottom → top. A module belongs to the entry naming it or its closest enclosing package;
# "harness" itself (the package's __init__) is only that module.
LAYERS: list[tuple[str, list[str]]] = [
    ("base", ["harness", "harness.errors", "harness.patience"]),
    ("models", ["harness.config", "harness.settings", "harness.bench", "harness.firmware",
                "harness.ctypes_dwarf", "harness.symbols", "harness.regs", "harness.regcheck",
                "harness.protocols", "harness.console", "harness.reaper"]),
    ("emulator", ["harness.emu"]),
    ("probes", ["harness.probes"]),
    ("dut", ["harness.dut", "harness.worlds", "harness.chiptime"]),
    ("worlds", ["harness.backends", "harness.testing"]),
    ("session", ["harness.session"]),
    ("features", ["harness.instruments", "harness.diag", "harness.station", "harness.ctest",
                  "harness.backends.cocotb", "harness.coverage", "harness.lab"]),
    ("plugin", ["harness.plugin", "harness.extras", "harness.hookspecs", "harness.cli",
                "harness.report", "harness.__main__", "harness.retry", "harness.flakes",
                "harness.shard"]),
]
# the extra plugins' entry modules sit with the plugin, whatever package they live in
PLUGIN_MODULE_SUFFIX = ".pytest_plugin"
# (module, name): imported upwards inside a function, by any layer
ACCESSORS = {("harness.plugin", "settings"), ("harness.plugin", "manager")}
# Known offenders, each to be removed by fixing the import: (importer, imported) → why it is
# wrong. An entry that no longer occurs fails test_known_offenders_still_exist, so this list
# only shrinks.
KNOWN_OFFENDERS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    names: tuple[str, ...]  # what a ``from`` import takes; () for ``import x``
    path: str
    line: int
    in_function: bool

    def where(self) -> str:
        return f"{self.path}:{self.line}"


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _known(name: str) -> str:
    """``name`` or the closest enclosing module that exists."""
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _function_level(tree: ast.AST) -> set[ast.AST]:
    inner: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            inner.update(n for n in ast.walk(node) if n is not node)
    return inner


def _edges() -> list[Edge]:
    edges = []
    for module, path in MODULES.items():
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(), rel)
        inner = _function_level(tree)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(tree):
            targets: list[tuple[str, tuple[str, ...]]] = []
            if isinstance(node, ast.Import):
                targets = [(a.name, ()) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - (node.level - 1)]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                for a in node.names:
                    sub = f"{prefix}.{a.name}"
                    targets.append((sub, ()) if sub in MODULES else (prefix, (a.name,)))
            taken: dict[str, tuple[str, ...]] = {}  # one edge per imported module and statement
            for target, names in targets:
                if target == "harness" or target.startswith("harness."):
                    known = _known(target)
                    taken[known] = taken.get(known, ()) + names
            edges += [Edge(module, target, names, rel, node.lineno, node in inner)
                      for target, names in taken.items() if target != module]
    return edges


ALL_EDGES = _edges()
EDGES = [e for e in ALL_EDGES if (e.source, e.target) not in KNOWN_OFFENDERS]


def _unit(module: str) -> str:
    if module.endswith(PLUGIN_MODULE_SUFFIX):
        return module
    best = ""
    for _layer, units in LAYERS:
        for unit in units:
            exact = unit == "harness"
            if (module == unit or (not exact and module.startswith(unit + "."))) \
                    and len(unit) > len(best):
                best = unit
    return best


def _layer(module: str) -> int | None:
    if module.endswith(PLUGIN_MODULE_SUFFIX):
        return len(LAYERS) - 1
    unit = _unit(module)
    return next((i for i, (_n, units) in enumerate(LAYERS) if unit in units), None)


def _name(index: int) -> str:
    return LAYERS[index][0]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _cycle_report(key: dict[str, str]) -> list[str]:
    graph: dict[str, set[str]] = defaultdict(set)
    for e in EDGES:
        if key[e.source] != key[e.target]:
            graph[key[e.source]].add(key[e.target])
    out = []
    for comp in _cycles(graph):
        members = set(comp)
        lines = [f"  {e.where()}: {e.source} imports {e.target}" for e in EDGES
                 if key[e.source] in members and key[e.target] in members
                 and key[e.source] != key[e.target]]
        out.append(f"cycle {' <-> '.join(comp)}:\n" + "\n".join(lines))
    return out


def test_every_module_has_a_layer():
    missing = sorted(m for m in MODULES if _layer(m) is None)
    assert not missing, ("modules with no layer in LAYERS (tests/unit/test_layers.py): "
                         + ", ".join(missing))


def test_no_module_imports_a_higher_layer():
    problems = []
    for e in EDGES:
        src, dst = _layer(e.source), _layer(e.target)
        if src is None or dst is None or dst <= src:
            continue
        if e.in_function and e.names and all((e.target, n) in ACCESSORS for n in e.names):
            continue  # the plugin's documented accessors, looked up when called
        what = f"{e.target}" + (f" ({', '.join(e.names)})" if e.names else "")
        problems.append(f"{e.where()}: {e.source} [{_name(src)}] imports {what} "
                        f"[{_name(dst)}]" + (" inside a function" if e.in_function else ""))
    assert not problems, "imports of a higher layer:\n" + "\n".join(problems)


def test_no_import_cycle_between_modules():
    problems = _cycle_report({m: m for m in MODULES})
    assert not problems, "\n".join(problems)


def test_no_import_cycle_between_packages():
    problems = _cycle_report({m: _unit(m) or m for m in MODULES})
    assert not problems, "\n".join(problems)


def test_known_offenders_still_exist():
    present = {(e.source, e.target) for e in ALL_EDGES}
    gone = [f"{a} -> {b}" for a, b in KNOWN_OFFENDERS if (a, b) not in present]
    assert not gone, "fixed, remove from KNOWN_OFFENDERS: " + ", ".join(gone)


def test_the_emulator_layer_needs_neither_worlds_nor_probes():
    """Spelled out, as the layer table could be edited: emu/ is what both build on."""
    bad = [f"{e.where()}: {e.source} imports {e.target}" for e in EDGES
           if (e.source.startswith("harness.emu")
               and e.target.startswith(("harness.backends", "harness.probes")))
           or (e.source.startswith("harness.probes") and e.target.startswith("harness.backends"))]
    assert not bad, "\n".join(bad)
