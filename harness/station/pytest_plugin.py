"""pytest wiring of the line: the ``measure`` and ``operator`` fixtures and, with ``--serial``,
the run record.

``measure(name, value, unit)`` judges a value against the product's limits file and fails the
test when it is outside (no assert needed); with ``stop=False`` the test goes on and fails at
its end. With ``--serial SN`` every test attempt and every measurement is committed to the record
store (``--db``, default ``results/harness.db``) the moment it is taken. ``operator`` asks the
person at the station (:mod:`harness.station.operator`); ``--operator-answers FILE`` answers
instead of them.

Only pytest is imported at start-up; the record store, pydantic and SQLAlchemy load on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .operator import Operator

_LIMITS = pytest.StashKey[dict]()
_DEFERRED = pytest.StashKey[list]()
_STATION = "harness-station-run"


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("harness-station", "QSM Harness production line")
    g.addoption("--serial", default=None, metavar="SN",
                help="serial number of the unit under test: record this run in --db")
    g.addoption("--db", default=None, metavar="URL",
                help="record store: sqlite:///path or postgresql+psycopg://... "
                     "(default: ini harness_db, else sqlite:///results/harness.db)")
    g.addoption("--station", default=None, metavar="NAME",
                help="station name for the record (default: the host name)")
    g.addoption("--operator", default="unknown", metavar="NAME", help="operator for the record")
    g.addoption("--product", default=None, metavar="NAME",
                help="product config (targets/products/NAME.yaml): part number and limits")
    g.addoption("--limits", default=None, metavar="YAML",
                help="limits file (default: the product's, else targets/limits/<target>.yaml)")
    g.addoption("--db-wait", type=float, default=None, metavar="SECONDS",
                help="how long writes wait for a record store that went away (default: 30 s "
                     "x --timeout-factor, or HARNESS_DB_WAIT)")
    g.addoption("--operator-answers", default=None, metavar="FILE",
                help="answers to the operator fixture's prompts: YAML, prompt name: answer "
                     "(instead of asking on the terminal or the station)")
    parser.addini("harness_db", "record store URL", default="sqlite:///results/harness.db")


def _root(config: pytest.Config) -> Path:
    from ..plugin import settings

    return settings(config).root


def _targets_dir(config: pytest.Config) -> Path:
    from ..plugin import settings

    return settings(config).targets_dir


def db_url(config: pytest.Config) -> str:
    url = config.getoption("db") or config.getini("harness_db")
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        url = prefix + str(_root(config) / url[len(prefix):])  # relative to the project root
    return url


def _product(config: pytest.Config):
    name = config.getoption("product")
    if not name:
        return None
    from .product import load_product

    return load_product(name, _targets_dir(config))


def _limits(config: pytest.Config, path: Path):
    cache = config.stash.setdefault(_LIMITS, {})
    if path not in cache:
        from .limits import load_limits

        cache[path] = load_limits(path)
    return cache[path]


def configured_limits_path(config: pytest.Config) -> Path | None:
    opt = config.getoption("limits")
    if opt:
        return Path(opt)
    product = _product(config)
    if product is not None:
        return product.root / product.limits
    return None


def pytest_configure(config: pytest.Config) -> None:
    from .operator import configure

    configure(config)
    if config.getoption("serial") is None:
        return
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        raise pytest.UsageError("--serial records one unit's run in one process: drop -n "
                                "(the station runs units in parallel, one process per slot)")
    from ..errors import HarnessError
    from .run import StationRun

    try:
        run = StationRun.begin(config, db_url(config), _product(config),
                               _limits_or_none(config))
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.pluginmanager.register(run, _STATION)


def _limits_or_none(config: pytest.Config):
    path = configured_limits_path(config)
    return _limits(config, path) if path is not None else None


# -- the measure fixture -------------------------------------------------------------------
class Measure:
    """``measure(name, value, unit)``: judge, record, and fail the test when out of limits."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request
        self.taken: list = []

    @property
    def limits(self):
        config = self._request.config
        path = configured_limits_path(config)
        if path is None:
            target = self._request.getfixturevalue("target")
            path = _targets_dir(config) / "limits" / f"{target.name}.yaml"
        return _limits(config, path)

    def __call__(self, name: str, value: float, unit: str, *, stop: bool = True):
        from .limits import MeasurementFailure

        limits = self.limits
        verdict = limits.judge(name, value, unit)
        item = self._request.node
        run = item.config.pluginmanager.get_plugin(_STATION)
        if run is not None:
            run.measurement(item, verdict, limits.sha256)
        item.user_properties.append(
            (f"measurement.{name}", f"{verdict.value!r} {unit} {verdict.outcome}"))
        self.taken.append(verdict)
        if not verdict.passed:
            if stop:
                raise MeasurementFailure(verdict)
            item.stash.setdefault(_DEFERRED, []).append(verdict)
        return verdict


@pytest.fixture
def measure(request: pytest.FixtureRequest) -> Measure:
    """Judge a value against the product's limits (and record it with ``--serial``)."""
    return Measure(request)


# -- the operator fixture ------------------------------------------------------------------
@pytest.fixture
def operator(request: pytest.FixtureRequest) -> Operator:
    """Ask the operator: ``confirm``, ``ask_number``, ``choose`` (recorded with ``--serial``;
    see :mod:`harness.station.operator`)."""
    from .operator import Operator

    return Operator(request, request.config.pluginmanager.get_plugin(_STATION))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    result = yield
    deferred = item.stash.get(_DEFERRED, [])
    if deferred:
        from .limits import MeasurementFailure

        first = MeasurementFailure(deferred[0])
        if len(deferred) > 1:
            first.args = ("\n".join(v.describe() for v in deferred),)
        raise first
    return result

