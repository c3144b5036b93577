"""pytest wiring: options, markers, fixtures and report hooks. Logic lives in other modules.

Imports of pydantic, pyelftools and rich are deferred until a Dut is asked for, so the plugin
costs a plain pytest run next to nothing.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from . import patience, worlds
from .errors import DutLost, HarnessError
from .settings import DEFAULT_BENCH, RunSettings

if TYPE_CHECKING:
    from .dut import Dut
    from .session import DutManager

SETTINGS = pytest.StashKey[RunSettings]()
_MANAGER = pytest.StashKey["DutManager"]()
_DUT = pytest.StashKey[list["Dut"]]()
_CALL_REPORT = pytest.StashKey[pytest.TestReport]()
_ENV_BEFORE = pytest.StashKey[dict[str, "str | None"]]()


def settings(config: pytest.Config) -> RunSettings:
    """The run's settings, built once in ``pytest_configure`` (every harness plugin reads
    paths and options from here)."""
    return config.stash[SETTINGS]


def manager(config: pytest.Config) -> DutManager:
    """The run's DutManager, created on first use and closed when the session ends."""
    mgr = config.stash.get(_MANAGER, None)
    if mgr is None:
        from .session import DutManager

        def variant(build: list[str] | None, image: Path):
            return config.hook.pytest_harness_firmware_variant(build=build, image=image)

        try:
            mgr = DutManager(settings(config), variant=variant)
        except HarnessError as exc:
            raise pytest.UsageError(str(exc)) from None
        config.stash[_MANAGER] = mgr
    return mgr


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import extras, hookspecs

    pluginmanager.add_hookspecs(hookspecs)
    # the plugins of the installed extras (rtl, station, ...); pytest_addoption is historic,
    # so they still add their options
    extras.register(pluginmanager)
    extras.keep_labgrid_plugin_off(pluginmanager)


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("harness", "QSM Harness")
    g.addoption("--target", action="append", default=[], metavar="NAME",
                help="target to test (repeatable); default: ini harness_targets, else all")
    g.addoption("--world", default="qemu", choices=worlds.names(),
                help="what stands for the chip (default: qemu; worlds register under the "
                     "'harness.worlds' entry point group)")
    g.addoption("--firmware", action="append", default=[], metavar="[TARGET=]IMAGE",
                help="test this image (ELF, Intel HEX or raw binary) instead of building the "
                     "target's firmware")
    g.addoption("--dut-scope", default="function", choices=("function", "module", "session"),
                help="how long one DUT lives (default function: a fresh boot per test)")
    g.addoption("--dut-reuse", default="reset", choices=("reset", "snapshot", "fresh"),
                help="function-scoped DUTs: 'reset' (default) reuses warm emulated chips, "
                     "proven back at power-on state between tests; 'snapshot' restores a "
                     "chip saved the moment it was ready (a slow boot paid once; boards "
                     "whose QEMU snapshots work); 'fresh' starts a new process per test")
    g.addoption("--chip-time", default="auto", choices=("off", "auto", "on"),
                help="run chips on chip time, with dut.clock (requires('clock')): in the "
                     "qemu world QEMU -icount sleep=off with the board's shift (firmware "
                     "timing independent of the host, an idle chip faster than the wall); in "
                     "the pyocd world the core's DWT cycle counter (qemu:auto chips on "
                     "icount). 'auto': for each target that can (a board with a shift, on "
                     "QEMU 10 or later, without --dut-reuse snapshot in the qemu world; a core "
                     "with a cycle counter on a bench) (the default); 'on' refuses a target "
                     "that cannot; 'off': the host's time")
    g.addoption("--timeout-factor", type=float, default=1.0, metavar="F",
                help="multiply every harness wait (slow machines, sanitizers); each wait is "
                     "also scaled by the machine's measured load unless --fixed-timeouts")
    g.addoption("--fixed-timeouts", action="store_true",
                help="do not scale waits by the machine's load (only by --timeout-factor)")
    g.addoption("--results", default=None, metavar="DIR",
                help="where per-DUT logs go (default: ini harness_results, else results)")
    g.addoption("--no-build", action="store_true",
                help="do not run make for stale firmware; use the image as it is")
    g.addoption("--probe", default=None, metavar="UID",
                help="debug probe unique id for the pyocd world ('qemu:auto' starts an "
                     "emulated chip); default: a free probe of the bench inventory")
    g.addoption("--bench", default=None, metavar="YAML",
                help="bench inventory (default: ini harness_bench)")
    g.addoption("--slot", type=int, default=None, metavar="N",
                help="bench slot this run uses (default: xdist worker index + 1, else 1)")
    g.addoption("--summary", action="store_true",
                help="print a table of tests, outcomes and durations at the end")
    parser.addini("harness_targets", "default targets", type="linelist", default=[])
    parser.addini("harness_targets_dir", "directory of target YAML files", default="targets")
    parser.addini("harness_results", "directory for logs and results", default="results")
    parser.addini("harness_bench", "bench inventory YAML (optional when left at its default)",
                  default=DEFAULT_BENCH)


def pytest_configure(config: pytest.Config) -> None:
    from .protocols import CAPABILITIES

    config.stash[SETTINGS] = run = RunSettings.from_config(config)
    if run.timeout_factor <= 0:
        raise pytest.UsageError(f"--timeout-factor {run.timeout_factor}: must be greater than 0")
    # processes the harness starts (pyOCD's qemu: probe, launchers, station slots) wait alike
    config.stash[_ENV_BEFORE] = {k: os.environ.get(k) for k in patience.ENV_ALL}
    os.environ[patience.ENV_FACTOR] = repr(run.timeout_factor)
    if config.getoption("fixed_timeouts"):
        os.environ[patience.ENV_FIXED] = "1"
    config.addinivalue_line(
        "markers", "requires(*capabilities): skip unless the world offers these capabilities "
        f"({', '.join(sorted(CAPABILITIES))})")
    config.addinivalue_line(
        "markers", "targets(*names): run only on these targets (intersected with --target)")
    config.addinivalue_line(
        "markers", "no_boot: hand the test its DUT at power-on state, halted at the reset "
        "vector, not yet booted; the test calls dut.boot()")
    if config.getoption("summary"):
        from .report import SummaryTable

        config.pluginmanager.register(SummaryTable(settings(config).results), "harness-summary")
    if config.getoption("target"):
        selected_targets(config)  # an unknown --target is a usage error before collection


def pytest_unconfigure(config: pytest.Config) -> None:
    for key, value in config.stash.get(_ENV_BEFORE, {}).items():  # a pytester run nests
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [f"harness: waits x{settings(config).timeout_factor:g} (--timeout-factor), "
             f"{patience.describe()}"]
    run = settings(config)
    if run.chip_time != "off":
        with contextlib.suppress(HarnessError, pytest.UsageError):
            if line := _chip_time_line(run, selected_targets(config)):
                lines.append(line)
    return lines


def _chip_time_line(run: RunSettings, names: list[str]) -> str | None:
    """Which targets run on chip time (``--chip-time auto`` says why the others do not); None
    in a world without chip time."""
    from .config import TargetCatalog

    world = worlds.get(run.world)
    catalog = TargetCatalog(run.targets_dir)
    on, off = [], []
    for name in names:
        target = catalog.get(name)
        problems = world.chip_time_problems(target, run)
        if problems is None:
            return None
        if "clock" in world.capabilities_for(run, target):
            on.append(name)
        else:
            off.append(f"{name} ({'; '.join(problems) or 'no chip clock'})")
    text = f"harness: chip time ({run.chip_time}) on {', '.join(on) or 'no target'}"
    if on and (note := world.chip_time_note(run)):
        text += f" ({note})"
    return text + (f"; host time for {', '.join(off)}" if off else "")


def selected_targets(config: pytest.Config) -> list[str]:
    run = settings(config)
    names, known = run.requested_targets, run.known_targets
    if not names:
        return list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise pytest.UsageError(
            f"unknown target {', '.join(map(repr, unknown))}; known targets: "
            f"{', '.join(known) or '(none in ' + str(run.targets_dir) + ')'}")
    return list(dict.fromkeys(names))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target" not in metafunc.fixturenames:
        return
    names = selected_targets(metafunc.config)
    marker = metafunc.definition.get_closest_marker("targets")
    if marker is not None:
        wanted = set(marker.args)
        names = [n for n in names if n in wanted]
    if not names:
        reason = ("no selected target matches @targets" +
                  (f"({', '.join(marker.args)})" if marker else ""))
        metafunc.parametrize("target", [pytest.param(None, marks=pytest.mark.skip(reason=reason))],
                             ids=["no-target"], indirect=True)
        return
    metafunc.parametrize("target", names, indirect=True)


def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("requires")
    if marker is None:
        return
    from .protocols import CAPABILITIES

    unknown = sorted(set(marker.args) - set(CAPABILITIES))
    if unknown:
        raise pytest.UsageError(f"{item.nodeid}: unknown capability {unknown}; known: "
                                f"{', '.join(sorted(CAPABILITIES))}")
    try:
        world = worlds.get(settings(item.config).world)
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    callspec = getattr(item, "callspec", None)
    name = callspec.params.get("target") if callspec is not None else None
    target = None
    if isinstance(name, str):
        with contextlib.suppress(HarnessError):
            target = manager(item.config).target(name)
    have = world.capabilities_for(settings(item.config), target)
    missing = [c for c in marker.args if c not in have]
    if missing:
        pytest.skip(f"the {world.name} world lacks {', '.join(missing)}")


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def harness_manager(request: pytest.FixtureRequest) -> DutManager:
    """The run's DutManager: targets, firmware images, open DUTs."""
    return manager(request.config)


@pytest.fixture(scope="session")
def harness_settings(request: pytest.FixtureRequest) -> RunSettings:
    """The run's settings (paths, world, options), as every harness plugin sees them."""
    return settings(request.config)


@pytest.fixture(scope="session")
def bench(request: pytest.FixtureRequest):
    """The bench inventory (``--bench``, else ini ``harness_bench``; None when the run has
    no inventory file: the emulated bench)."""
    return settings(request.config).bench


@pytest.fixture(scope="session")
def slot(request: pytest.FixtureRequest) -> int:
    """The bench slot of this worker: ``--slot``, else xdist worker index + 1, else 1."""
    return settings(request.config).slot


@pytest.fixture
def target(request: pytest.FixtureRequest, harness_manager):
    """The target description (parametrized over --target / ini harness_targets)."""
    name = getattr(request, "param", None)
    if name is None:
        names = selected_targets(request.config)
        if len(names) != 1:
            pytest.fail("this test needs exactly one target; select one with --target")
        name = names[0]
    return harness_manager.target(name)


def _log_dir(item: pytest.Item) -> Path:
    return settings(item.config).log_dir(item.nodeid)


def _skip_unless_the_image_offers(item: pytest.Item, target, harness_manager) -> None:
    """``requires("symbols")`` needs an image with a symbol table (ELF), whatever the world."""
    marker = item.get_closest_marker("requires")
    if marker is not None and "symbols" in marker.args:
        image = harness_manager.image(target)
        if not image.has_symbols:
            pytest.skip(f"the {image.format.upper()} image {image.path.name} of {target.name} "
                        "has no symbols")


@pytest.fixture
def dut(request: pytest.FixtureRequest, target, harness_manager, slot):
    """A booted chip for ``target`` in the selected world, at power-on state."""
    item = request.node
    hook = item.config.hook
    scope = harness_manager.settings.dut_scope
    key = {"function": item.nodeid, "module": str(item.path), "session": "session"}[scope]
    log_dir = _log_dir(item)
    _skip_unless_the_image_offers(item, target, harness_manager)
    hook.pytest_harness_power_on(target=target, slot=slot, item=item)
    try:
        boot = item.get_closest_marker("no_boot") is None
        the_dut, owned = harness_manager.acquire(target, key, log_dir, boot=boot)
    except BaseException:
        hook.pytest_harness_power_off(target=target, slot=slot, item=item)
        raise
    item.stash.setdefault(_DUT, []).append(the_dut)
    for c in the_dut.consoles.values():
        if not owned:
            c.log.open(log_dir / f"{the_dut.name}.{c.name.split('/')[-1]}.log")
    _record_properties(item, the_dut, log_dir)
    try:
        hook.pytest_harness_dut_ready(dut=the_dut, slot=slot, item=item)
        yield the_dut
    finally:
        call = item.stash.get(_CALL_REPORT, None)
        lost = not the_dut.alive
        diagnosis = the_dut.diagnosis() if lost else ""
        try:
            if not lost:
                hook.pytest_harness_dut_done(dut=the_dut, slot=slot, item=item)
        finally:
            if owned:
                the_dut.close()
            hook.pytest_harness_power_off(target=target, slot=slot, item=item)
        if lost and call is not None and call.passed:
            raise DutLost(f"the chip died during a passing test:\n{diagnosis}")


@pytest.fixture
def dut_factory(request: pytest.FixtureRequest, harness_manager, target):
    """Open more DUTs in one test: ``dut_factory()`` or ``dut_factory("qsm-washer", name=...)``.

    Every DUT it opens is closed when the test ends.
    """
    opened: list[Dut] = []
    item = request.node
    log_dir = _log_dir(item)

    def open_(target_name: str | None = None, name: str | None = None):
        t = harness_manager.target(target_name) if target_name else target
        d = harness_manager.open(t, log_dir, name=name or f"{t.name}-{len(opened)}")
        opened.append(d)
        item.stash.setdefault(_DUT, []).append(d)
        return d

    yield open_
    for d in opened:
        d.close()


def _record_properties(item: pytest.Item, dut, log_dir: Path) -> None:
    props = [("target", dut.target.name), ("world", dut.world),
             ("firmware", str(dut.image.path)), ("firmware_sha256", dut.image.sha256),
             ("firmware_format", dut.image.format),
             ("firmware_version", str(dut.running_version or "none")),
             ("firmware_identity", dut.identity), ("log_dir", str(log_dir))]
    item.user_properties.extend(props)


# -- reporting -----------------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call":
        item.stash[_CALL_REPORT] = report
    if report.failed and call.excinfo is not None:
        if call.excinfo.errisinstance(HarnessError):
            report.harness_error = True
            item.user_properties.append(("harness_outcome", "error"))
        for d in item.stash.get(_DUT, []):
            report.sections.append((f"harness: {d.name}", d.diagnosis()))
    return report


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config):
    if report.when == "call" and report.failed and getattr(report, "harness_error", False):
        return "error", "E", "ERROR"
    return None


@pytest.hookimpl(trylast=True)  # after the other harness plugins closed what they own
def pytest_sessionfinish(session: pytest.Session) -> None:
    from . import reaper

    mgr = session.config.stash.get(_MANAGER, None)
    if mgr is not None:
        mgr.close_all()

    leaked = reaper.live()
    for proc in leaked:
        reaper.stop(proc, grace=0.2)
    if leaked:
        session.config.issue_config_time_warning(
            pytest.PytestWarning(f"harness stopped {len(leaked)} leaked emulator process(es)"), 2)
