"""The built wheel installs into someone else's project: a fresh venv that already has pytest 8.

Builds the wheel from a copy of the sources (setuptools writes build/ and *.egg-info next to
them), installs it next to the pytest that is already there, and checks what a user sees: the
core options and fixtures, none of an extra's until the extra is installed, a test run, and the
``[pyocd]`` extra bringing pyOCD and the ``qemu`` debug probe. Every package comes from the
package index, at the versions of constraints.txt (pytest excepted: the user's stays).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from harness import extras

ROOT = Path(__file__).resolve().parents[2]
# what the wheel is built from (pyproject.toml names README.md as the long description)
SOURCES = ("pyproject.toml", "README.md", "harness")
USER_PYTEST = "pytest>=8,<9"
TIMEOUT = 1800  # a hung index or build, not a slow one


def _env() -> dict[str, str]:
    """The environment without this run's pytest, virtualenv, import path and pip constraint
    settings (tox sets PIP_CONSTRAINT: it would pin the user's pytest)."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("PYTEST_", "COV_")) and k not in (
                "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "PIP_CONSTRAINT")}


def run(step: str, *cmd, cwd: Path, ok: bool = True) -> str:
    """Run ``cmd``; its output, stdout and stderr together. Fails naming ``step`` with it."""
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=_env(), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT)
    if ok:
        assert proc.returncode == 0, (
            f"{step}: {' '.join(map(str, cmd))} exited {proc.returncode}\n{proc.stdout}")
    return proc.stdout


def _constraints(tmp_path: Path) -> Path:
    """constraints.txt without its pytest pin: the user's pytest is the one that counts."""
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    kept = [ln for ln in lines if not re.match(r"pytest\s*==", ln, re.IGNORECASE)]
    assert len(kept) == len(lines) - 1, "constraints.txt should pin pytest exactly once"
    path = tmp_path / "constraints.txt"
    path.write_text("\n".join(kept) + "\n")
    return path


def _build_wheel(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, src / name)
    dist = tmp_path / "dist"
    run("build the wheel", sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", dist, src,
        cwd=tmp_path)
    wheels = list(dist.glob("qsm_harness-*.whl"))
    assert len(wheels) == 1, f"expected one wheel in {dist}: {wheels}"
    return wheels[0]


def _plugin_options(module: str) -> set[str]:
    """The command-line options a plugin module adds, read from its source."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, module
    return set(re.findall(r"addoption\(\s*[\"'](--[\w-]+)[\"']", Path(spec.origin).read_text()))


def _version(python: Path, dist: str, cwd: Path) -> str:
    return run(f"read the version of {dist}", python, "-c",
               f"import importlib.metadata as m; print(m.version({dist!r}))", cwd=cwd).strip()


USER_TEST = '''
import pytest

EXTRA_PLUGINS = {extra_plugins!r}


@pytest.mark.no_boot  # a harness marker: --strict-markers fails the run if it is unknown
def test_harness_is_loaded(pytestconfig, target):
    pm = pytestconfig.pluginmanager
    assert pm.has_plugin("harness")
    assert pm.has_plugin("harness-ctest")
    assert [name for name in EXTRA_PLUGINS if pm.has_plugin(name)] == []
    assert target.name == "qsm-washer"
'''


def test_wheel_installs_into_a_project_with_pytest_8(tmp_path):
    constraints = _constraints(tmp_path)
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as whl:  # the files that are not Python: the panel's page
        names = set(whl.namelist())
    for page in ("index.html", "panel.js", "panel.css"):
        assert f"harness/station/panel/static/{page}" in names, f"the wheel lacks {page}"
    venv = tmp_path / "venv"
    run("create the venv", sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python, pytest = venv / "bin" / "python", venv / "bin" / "pytest"
    pip = (python, "-m", "pip")

    # the user's project: pytest 8 first, then the harness
    run("install the user's pytest", *pip, "install", "-c", constraints, USER_PYTEST,
        cwd=tmp_path)
    before = _version(python, "pytest", tmp_path)
    assert before.startswith("8."), before
    out = run("install the wheel", *pip, "install", "-c", constraints, wheel, cwd=tmp_path)
    after = _version(python, "pytest", tmp_path)
    assert after == before, f"installing the wheel changed pytest {before} -> {after}\n{out}"

    # the extras' libraries stay out; the plugins of those extras are not registered
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text(
        "[pytest]\naddopts = --strict-markers -p no:cacheprovider\n"
        f"harness_targets_dir = {ROOT / 'targets'}\n"
        f"harness_bench = {ROOT / 'targets' / 'benches' / 'emulated.yaml'}\n")
    absent = [name for name, extra in extras.EXTRAS.items() if extra.requires is not None]
    probe = ("import importlib.util, json; print(json.dumps({n: importlib.util.find_spec(n) "
             "is not None for n in %r}))" % [extras.EXTRAS[n].requires for n in absent])
    found = json.loads(run("look for the extras' libraries", python, "-c", probe, cwd=project))
    assert not any(found.values()), f"the core install brought an extra's library: {found}"

    help_text = run("pytest --help", pytest, "--help", cwd=project)
    for option in ("--target", "--world", "--dut-scope"):
        assert option in help_text, f"pytest --help lacks the harness option {option}\n{help_text}"
    extra_plugins: dict[str, str] = {}
    for name in absent:
        extra_plugins.update(extras.EXTRAS[name].plugins)
    for plugin, module in extra_plugins.items():
        for option in _plugin_options(module):
            assert not re.search(rf"{re.escape(option)}\b", help_text), (
                f"pytest --help shows {option} of {plugin} without its extra\n{help_text}")
    for plugin in ("harness-rtl", "harness-station", "harness-diag"):
        assert _plugin_options(extra_plugins[plugin]), f"no options read from {plugin}"

    fixtures = run("pytest --fixtures", pytest, "--fixtures", cwd=project)
    assert "fixtures defined from harness.plugin" in fixtures, fixtures
    for module in extra_plugins.values():
        assert f"fixtures defined from {module}" not in fixtures, (
            f"{module} is registered without its extra\n{fixtures}")

    (project / "test_user.py").write_text(USER_TEST.format(extra_plugins=sorted(extra_plugins)))
    out = run("a test with the plugin loaded", pytest, "-v", "--target", "qsm-washer",
              cwd=project)
    assert "1 passed" in out, out

    # a newcomer's own repo: their image (a vendor REPL as Intel HEX), `harness init`, `pytest`
    # in the qemu world with no bench inventory and nothing else of ours
    run("build the foreign images", "make", "-s", "-C", ROOT / "tests" / "foreign" / "firmware",
        cwd=tmp_path)
    newbie = tmp_path / "newbie"
    newbie.mkdir()
    shutil.copy(ROOT / "tests" / "foreign" / "build" / "repl-m3.hex", newbie / "vendor.hex")
    run("harness init", venv / "bin" / "harness", "init", "--board", "lm3s6965evb", "--image",
        "vendor.hex", "--newline", "cr", "--echo", "--prompt", "^> ", cwd=newbie)
    out = run("pytest in the newcomer's repo", pytest, "-p", "no:cacheprovider", cwd=newbie)
    assert "2 passed" in out, out

    # the pyocd extra: pyOCD itself and the qemu: probe it finds through its entry point
    out = run("install the [pyocd] extra", *pip, "install", "-c", constraints,
              f"{wheel}[pyocd]", cwd=tmp_path)
    assert _version(python, "pytest", tmp_path) == before, f"[pyocd] changed pytest\n{out}"
    probe_ep = run("import pyocd and list the pyocd.probe entry points", python, "-c",
                   "import pyocd, importlib.metadata as m; "
                   "eps = m.entry_points(group='pyocd.probe'); "
                   "print(*(f'{e.name}={e.value}' for e in eps)); "
                   "print(eps['qemu'].load().__name__)", cwd=project)
    assert "qemu=harness.probes.plugin:QemuProbePlugin" in probe_ep, probe_ep
    assert "QemuProbePlugin" in probe_ep.splitlines()[-1], probe_ep
