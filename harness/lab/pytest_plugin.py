"""pytest wiring of the lab: ``--lab HOST:PORT --lab-tags k=v,...`` runs the tests on a place.

Each pytest process that runs tests (each xdist worker; the run itself without xdist; a station
slot's unit) reserves a place with the tags, waits for it in the coordinator's line (saying how
many are ahead), acquires it, writes the place's bench inventory (:mod:`.bench`) and runs in the
pyocd world on it — as on a local bench, with the probe and console of that place. The place is
released, and the reservation cancelled, when the process ends (pytest's unconfigure, also after
Ctrl-C or an internal error); a process killed outright leaves it to :func:`.acquire.release_lost`
on the next acquisition from this host. Every test gets the JUnit property ``lab_place``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .acquire import Held

_HELD: pytest.StashKey[Held] = pytest.StashKey()
DEFAULT_TIMEOUT = 300.0  # s a run waits for a place before it fails


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("harness-lab", "lab (labgrid)")
    g.addoption("--lab", default=None, metavar="HOST:PORT",
                help="labgrid coordinator: run on a place of the lab (default: ini harness_lab)")
    g.addoption("--lab-tags", default=None, metavar="K=V,...",
                help="tags the place must have, e.g. chip=qsm-washer (default: ini "
                     "harness_lab_tags)")
    g.addoption("--lab-timeout", type=float, default=None, metavar="SECONDS",
                help=f"fail when no place comes within this time (default "
                     f"{DEFAULT_TIMEOUT:g} s)")
    parser.addini("harness_lab", "labgrid coordinator HOST:PORT (as --lab)", default="")
    parser.addini("harness_lab_tags", "tags of the place to run on (as --lab-tags)", default="")


def _runs_tests(config: pytest.Config) -> bool:
    """False on an xdist controller (its workers run the tests and acquire)."""
    if hasattr(config, "workerinput"):
        return True
    return not getattr(config.option, "numprocesses", None)


@pytest.hookimpl(tryfirst=True)  # before the harness reads --bench and --world
def pytest_configure(config: pytest.Config) -> None:
    address = config.getoption("lab") or config.getini("harness_lab")
    if not address or not _runs_tests(config):
        return
    from pathlib import Path

    from .acquire import LabError, acquire_place, parse_tags
    from .inventory import write_inventory

    try:
        tags = parse_tags(config.getoption("lab_tags") or config.getini("harness_lab_tags")
                          or "")
    except ValueError as exc:
        raise pytest.UsageError(f"{exc} (give --lab-tags with --lab)") from None
    timeout = config.getoption("lab_timeout") or DEFAULT_TIMEOUT
    worker = getattr(config, "workerinput", {}).get("workerid", "main")

    def say(line: str) -> None:
        print(f"[{worker}] {line}", file=sys.stderr, flush=True)

    try:
        held = acquire_place(address, tags, timeout, say)
    except LabError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_HELD] = held
    results = Path(config.getoption("results") or Path(config.rootpath) /
                   config.getini("harness_results"))
    try:
        path = write_inventory(held.place, held.client.address,
                               results / "lab" / worker)
    except LabError as exc:
        held.release()
        raise pytest.UsageError(str(exc)) from None
    config.option.bench = str(path)
    config.option.world = "pyocd"
    config.option.slot = 1
    config.option.probe = None
    chip = held.place.tags.get("chip")
    if chip and not config.getoption("target"):
        config.option.target = [chip]  # the place's chip, unless the run names targets


def pytest_unconfigure(config: pytest.Config) -> None:
    held = config.stash.get(_HELD, None)
    if held is not None:
        held.release()
        del config.stash[_HELD]


def pytest_report_header(config: pytest.Config) -> str | None:
    held = config.stash.get(_HELD, None)
    if held is None:
        return None
    tags = ", ".join(f"{k}={v}" for k, v in sorted(held.place.tags.items()))
    return f"harness: lab place {held.place.name} ({tags}) from {held.client.address}"


def pytest_runtest_setup(item: pytest.Item) -> None:
    held = item.config.stash.get(_HELD, None)
    if held is not None:
        item.user_properties.append(("lab_place", held.place.name))
        # a station run records it with the run's instruments: which place, which host
        host = held.place.tags.get("host", "?")
        item.user_properties.append(("instrument.lab-place",
                                     f"{held.place.name} on {host} via {held.client.address}"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failing test on a place whose resources went away says which (the exporter or its
    host is gone), from the coordinator's own view of the place."""
    report = yield
    held = item.config.stash.get(_HELD, None)
    if held is not None and report.failed:
        from .acquire import lost_resources

        lost = lost_resources(held)
        if lost:
            report.sections.append(("lab", lost))
            item.user_properties.append(("lab_lost", lost))
    return report
