"""pytest wiring of the lab: ``--lab HOST:PORT --lab-tags k=v,...`` runs the tests on a place.

Each pytest process that runs tests (each xdist worker; the run itself without xdist; a station
slot's unit) reserves a place with the tags, waits for it in the coordinator's line (saying how
many are ahead), acquires it, writes the place's bench inventory (:mod:`.inventory`) and runs in
the pyocd world on it — as on a local bench, with the probe, console and instruments of that
place. When the tags name the chip, the place is acquired while pytest collects (a thread of
:class:`Acquiring`; labgrid's own acquisition takes ~0.5 s, its exporter starting ser2net, and
the coordinator acquires one place at a time) and waited for before the first test, which
imports the pyocd world meanwhile; the place's console starts opening as soon as the place is
held (an RFC 2217 port takes ~0.5 s to open), for the first test's DUT to take. The place is
released, and the reservation cancelled, when the process ends (pytest's unconfigure, also after
Ctrl-C or an internal error); a process killed outright leaves it to :func:`.acquire.release_lost`
on the next acquisition from this host. Every test gets the JUnit property ``lab_place``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .acquire import Held

_ACQUIRING: pytest.StashKey[Acquiring] = pytest.StashKey()
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


class Acquiring:
    """A place being acquired in a thread of its own: :meth:`held` waits for it (and raises the
    acquisition's error, if any); the bench inventory is written to ``path`` before."""

    def __init__(self, address: str, tags: dict[str, str], timeout: float,
                 say: Callable[[str], None], path: Path, background: bool) -> None:
        self.address, self.tags, self.timeout, self.say, self.path = (address, tags, timeout,
                                                                       say, path)
        self._held: Held | None = None
        self._console: str | None = None  # the place's console URL, opened early
        self._error: BaseException | None = None
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._acquire, daemon=True,
                                            name="lab place")
            self._thread.start()
        else:
            self._acquire()

    def _acquire(self) -> None:
        from .acquire import acquire_place
        from .inventory import console_speed, console_url, write_inventory

        try:
            held = acquire_place(self.address, self.tags, self.timeout, self.say,
                                 self._cancel.is_set)
        except BaseException as exc:  # raised by held() in pytest's own thread
            self._error = exc
            return
        try:
            write_inventory(held.place, held.client.address, self.path)
            self._console = console_url(held.place)
        except BaseException as exc:
            held.release()
            self._error = exc
            return
        if self._console is not None:
            from ..backends.pyocd_serial import open_early

            open_early(self._console, console_speed(held.place))
        self._held = held
        tags = ", ".join(f"{k}={v}" for k, v in sorted(held.place.tags.items()))
        self.say(f"lab place {held.place.name} ({tags})")

    def held(self, usage: bool = True) -> Held:
        """The place; when it could not be had, the acquisition's error — a usage error
        (``usage``: nothing runs, exit 4) or a :class:`~.acquire.LabError` (an xdist worker's
        tests each ERROR with it: a worker cannot end the run with a usage error)."""
        from .acquire import LabError

        if self._thread is not None:
            if self._thread.is_alive():
                _import_world()
            self._thread.join()
        if self._error is not None:
            if isinstance(self._error, LabError) and usage:
                raise pytest.UsageError(str(self._error))
            raise self._error
        assert self._held is not None
        return self._held

    def now(self) -> Held | None:
        """The place if it is held now (None while acquiring or after a failure)."""
        return self._held

    def release(self) -> None:
        """Release the place once acquired; a wait in the coordinator's line is given up
        (Ctrl-C during collection does not wait out --lab-timeout). Never raises (an exit
        path)."""
        self._cancel.set()
        if self._thread is not None:
            self._thread.join()
        if self._console is not None:
            from ..backends.pyocd_serial import drop_early

            drop_early(self._console)
        if self._held is not None:
            self._held.release()
            self._held = None


def _import_world() -> None:
    """What the first test on the place imports anyway (the pyocd world: pyOCD, ~0.3 s of
    CPU), imported while the place is still coming instead of after."""
    import contextlib
    import importlib

    with contextlib.suppress(ImportError):  # the first test says what is missing
        importlib.import_module("harness.backends.pyocd_pool")


@pytest.hookimpl(tryfirst=True)  # before the harness reads --bench and --world
def pytest_configure(config: pytest.Config) -> None:
    address = config.getoption("lab") or config.getini("harness_lab")
    if not address or not _runs_tests(config):
        return
    from .acquire import parse_tags

    try:
        tags = parse_tags(config.getoption("lab_tags") or config.getini("harness_lab_tags")
                          or "")
    except ValueError as exc:
        raise pytest.UsageError(f"{exc} (give --lab-tags with --lab)") from None
    timeout = config.getoption("lab_timeout") or DEFAULT_TIMEOUT
    worker = getattr(config, "workerinput", {}).get("workerid", "main")

    def say(line: str) -> None:
        print(f"[{worker}] {line}", file=sys.stderr, flush=True)

    results = Path(config.getoption("results") or Path(config.rootpath) /
                   config.getini("harness_results"))
    path = results / "lab" / worker / "place.yaml"
    chip = tags.get("chip")
    # the run's target comes from the tags (or the run names it): the place can come while
    # pytest collects; otherwise the place's own chip tag is needed first
    background = bool(chip or config.getoption("target"))
    acquiring = Acquiring(address, tags, timeout, say, path, background)
    config.stash[_ACQUIRING] = acquiring
    config.option.bench = str(path)
    config.option.world = "pyocd"
    config.option.slot = 1
    config.option.probe = None
    if not config.getoption("target"):
        chip = chip or acquiring.held().place.tags.get("chip")
        if chip:
            config.option.target = [chip]  # the place's chip, unless the run names targets


def _held(config: pytest.Config) -> Held | None:
    acquiring = config.stash.get(_ACQUIRING, None)
    if acquiring is None:
        return None
    return acquiring.held(usage=not hasattr(config, "workerinput"))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Before the first test: the place is held (or the run stops with why it is not)."""
    if not hasattr(session.config, "workerinput"):
        _held(session.config)


def pytest_unconfigure(config: pytest.Config) -> None:
    acquiring = config.stash.get(_ACQUIRING, None)
    if acquiring is not None:
        acquiring.release()
        del config.stash[_ACQUIRING]


def pytest_report_header(config: pytest.Config) -> str | None:
    acquiring = config.stash.get(_ACQUIRING, None)
    if acquiring is None:
        return None
    tags = ", ".join(f"{k}={v}" for k, v in sorted(acquiring.tags.items()))
    return f"harness: lab {acquiring.address}, a place with {tags}"


# what pyOCD, pyserial, PyVISA and the harness raise when the far end of a link is gone
_LINK_ERRORS = frozenset({"ProbeError", "TransferError", "SerialException", "VisaIOError",
                          "InstrumentError", "ProtocolError"})


def _connection_lost(excinfo: pytest.ExceptionInfo[BaseException] | None) -> bool:
    """Whether a test ended on a lost connection (anywhere in the exception's chain)."""
    from ..errors import DutLost

    exc = excinfo.value if excinfo is not None else None
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, (DutLost, ConnectionError, EOFError, OSError)) or any(
                c.__name__ in _LINK_ERRORS for c in type(exc).__mro__):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _lost_after_a_while(held: Held) -> str:
    """The coordinator learns of a lost exporter a moment after its connections drop, and a
    test on that place can fail first: asked again for a few seconds (only for such failures)."""
    import time

    from .. import patience
    from .acquire import lost_resources

    deadline = time.monotonic() + patience.scaled(5.0)
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if lost := lost_resources(held):
            return lost
    return ""


def pytest_runtest_setup(item: pytest.Item) -> None:
    held = _held(item.config)
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
    acquiring = item.config.stash.get(_ACQUIRING, None)
    held = acquiring.now() if acquiring is not None else None  # never raises here
    if held is not None and report.failed:
        from .acquire import lost_resources

        lost = lost_resources(held)
        if not lost and _connection_lost(call.excinfo):
            lost = _lost_after_a_while(held)
        if lost:
            report.sections.append(("lab", lost))
            # this report copied the item's properties when it was made: both get it, once
            for props in (report.user_properties, item.user_properties):
                if ("lab_lost", lost) not in props:
                    props.append(("lab_lost", lost))
    return report
