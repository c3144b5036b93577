"""Optional parts of the harness: which extra brings which pytest plugins.

``pip install qsm-harness`` gives the core (the ``dut`` fixture, the qemu world, on-target C
tests); each extra (``pip install 'qsm-harness[station]'``) adds libraries and, with them, the
pytest plugins that need them. The package declares a single ``pytest11`` entry point,
``harness.plugin``; its ``pytest_addhooks`` calls :func:`register`, which registers the plugin
modules of every extra whose library is installed, under the names they always had (so
``-p no:harness-station`` still switches one off). Presence is checked with
``importlib.util.find_spec``: nothing heavy is imported, and the plugin modules themselves only
import pytest at start-up.

The names of the extras are those of ``[project.optional-dependencies]`` in pyproject.toml.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import pytest


class Extra(NamedTuple):
    # the top-level module whose presence means the extra is installed (None: the core, always)
    requires: str | None
    # pytest plugin name -> module, registered when the extra is installed
    plugins: dict[str, str]


EXTRAS: dict[str, Extra] = {
    "core": Extra(None, {"harness-ctest": "harness.ctest.pytest_plugin",
                         "harness-retry": "harness.retry",
                         "harness-shard": "harness.shard"}),
    "pyocd": Extra("pyocd", {}),  # the pyocd world and the qemu: probe; no plugin of its own
    "rtl": Extra("cocotb", {"harness-rtl": "harness.backends.cocotb.pytest_plugin"}),
    "instruments": Extra("pyvisa", {"harness-instruments": "harness.instruments.pytest_plugin"}),
    "diag": Extra("udsoncan", {"harness-diag": "harness.diag.pytest_plugin"}),
    "station": Extra("sqlalchemy", {"harness-station": "harness.station.pytest_plugin"}),
    "web": Extra("fastapi", {}),  # the operator panel
    "coverage": Extra("gcovr", {"harness-coverage": "harness.coverage.pytest_plugin"}),
    # a lab of benches on labgrid (harness lab; --lab runs the tests on one of its places)
    "lab": Extra("labgrid", {"harness-lab": "harness.lab.pytest_plugin"}),
}


def installed(name: str) -> bool:
    """Whether the extra ``name`` (a key of :data:`EXTRAS`) is installed."""
    requires = EXTRAS[name].requires
    return requires is None or importlib.util.find_spec(requires) is not None


def available() -> list[str]:
    """Names of the installed extras, the core included."""
    return [name for name in EXTRAS if installed(name)]


def register(pluginmanager: pytest.PytestPluginManager) -> list[str]:
    """Register the plugins of every installed extra; returns the names registered.

    A plugin blocked with ``-p no:NAME`` is neither imported nor registered, nor is one that is
    already registered (e.g. given with ``-p`` by module name).
    """
    done = []
    for name, extra in EXTRAS.items():
        if not extra.plugins or not installed(name):
            continue
        for plugin_name, module_name in extra.plugins.items():
            if pluginmanager.is_blocked(plugin_name) or pluginmanager.has_plugin(plugin_name):
                continue
            module = importlib.import_module(module_name)
            if pluginmanager.is_registered(module):
                continue
            pluginmanager.register(module, plugin_name)
            done.append(plugin_name)
    return done


# labgrid (the lab extra) ships a pytest plugin of its own, loaded by its entry point: it has a
# ``target`` fixture of its own (which would shadow the harness's) and a step logger that
# starts once per process. The harness uses labgrid as a lab client only, so that plugin stays
# off unless the run asks for it (``--lg-env`` or ``LG_ENV``).
LABGRID_PLUGIN = "labgrid"


def keep_labgrid_plugin_off(pluginmanager: pytest.PytestPluginManager,
                            argv: list[str] | None = None) -> bool:
    """Unregister and block labgrid's pytest plugin unless the run uses it; whether it did."""
    import os
    import sys

    args = sys.argv if argv is None else argv
    if os.environ.get("LG_ENV") or any(a == "--lg-env" or a.startswith("--lg-env=")
                                       for a in args):
        return False
    plugin = pluginmanager.get_plugin(LABGRID_PLUGIN)
    if plugin is not None:
        pluginmanager.unregister(plugin, LABGRID_PLUGIN)
    pluginmanager.set_blocked(LABGRID_PLUGIN)
    return True
