"""``--retry N``: a failed test runs again, up to N more times, each time on a fresh chip.

A test that fails and then passes is not a pass: it is reported FLAKY (terminal, JUnit XML),
with the failures of its earlier attempts kept; one that fails every attempt is FAILED with its
attempt count. Nothing changes without ``--retry``.

What is retried:

* a failure in the test's call, an assertion or a harness error (a lost chip, a timeout);
* a harness error in setup (``HarnessError``: the chip did not boot, a tool broke) — exactly
  what a fresh chip may cure. Other setup errors (a broken fixture) are deterministic and are
  not retried, nor is any error in teardown (it comes after the test's verdict);
* never a skip, nor a test marked ``xfail``.

Between attempts the ``pytest_harness_retry`` hook runs (after the failed attempt's teardown);
this plugin's own implementation closes every chip the run's DutManager holds (its pools and
its module- or session-scoped DUTs) and the C tests' chip, so the next attempt boots a new one
whatever ``--dut-scope`` and ``--dut-reuse`` say. The test item is put back as it was before
the first attempt (``user_properties``, ``stash``); the failed attempt's logs are kept beside
the test's log folder, in ``<log dir>.attempt-<k>``. A failure that pytest caches in a module- or
session-scoped fixture stays cached: retries of its tests fail the same way.

Reports: the failed report of an earlier attempt is logged with outcome ``rerun`` (letter R,
not counted as a failure); the final attempt's reports carry ``harness_attempts`` and, on a
pass after failures, ``harness_flaky``. JUnit properties of such a test: ``harness_attempts``,
``harness_outcome`` = ``flaky`` (flaky tests only) and ``harness_attempt_<k>`` with the failure
text of each earlier attempt ``k``. A flaky test does not fail the run; ``harness flakes`` reads
a folder of JUnit files and ranks tests by how often they were flaky.

Only pytest is imported at start-up.
"""

from __future__ import annotations

import shutil
from typing import Any

import pluggy
import pytest
from _pytest.runner import runtestprotocol

hookspec = pluggy.HookspecMarker("pytest")

# a property value or a failure text kept in a report: long enough for a traceback
TEXT_LIMIT = 20000


class RetryHooks:
    @hookspec
    def pytest_harness_retry(self, item: pytest.Item, attempt: int,
                             reports: list[pytest.TestReport]) -> None:
        """Attempt ``attempt`` of ``item`` failed (its ``reports``; the failing one has
        outcome ``rerun``) and the test runs again: give up what that attempt may have left
        broken, so the next one starts fresh. Called after the attempt's teardown, with
        ``item.stash`` back as it was before the first attempt and ``item.user_properties``
        still the failed attempt's (``log_dir`` names where its logs were kept)."""


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(RetryHooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("harness", "QSM Harness")
    g.addoption("--retry", type=int, default=0, metavar="N",
                help="run a failed test up to N more times, each time on a fresh chip; one "
                     "that passes on a later attempt is reported FLAKY (default 0)")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("retry") < 0:
        raise pytest.UsageError(f"--retry {config.getoption('retry')}: give 0 or more retries")


def retryable(reports: list[pytest.TestReport]) -> pytest.TestReport | None:
    """The report that makes this attempt worth another one (None: it is not)."""
    for rep in reports:
        if rep.when == "call" and rep.failed:
            return rep
        if rep.when == "setup" and rep.failed and getattr(rep, "harness_error", False):
            return rep
    return None


def _short(rep: pytest.TestReport) -> str:
    """One line saying how a report failed."""
    crash = getattr(rep.longrepr, "reprcrash", None)
    message = getattr(crash, "message", None)
    if not message:
        lines = [ln for ln in rep.longreprtext.splitlines() if ln.strip()]
        message = lines[-1] if lines else rep.outcome
    first = message.splitlines()[0] if message.strip() else rep.outcome
    return f"{rep.when}: {first}"[:300]


def _failure_text(reports: list[pytest.TestReport], logs: str | None) -> str:
    """What failed in an attempt (every failed phase), headed by where its logs were kept."""
    parts = [logs] if logs else []
    parts += [f"{rep.when} failed:\n{rep.longreprtext}" for rep in reports if rep.failed]
    return "\n\n".join(parts)[-TEXT_LIMIT:]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    retries: int = item.config.getoption("retry")
    if retries <= 0 or item.get_closest_marker("xfail") is not None:
        return None  # pytest's own protocol
    ihook = item.ihook
    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    properties = list(item.user_properties)
    stash = _stash_state(item)
    earlier: list[tuple[str, str]] = []  # (short line, failure text) per failed attempt
    attempt = 1
    while True:
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
        failed = retryable(reports)
        session = item.session
        if failed is None or attempt > retries or session.shouldstop or session.shouldfail:
            break
        earlier.append((_short(failed), _failure_text(reports, _keep_logs(item, attempt))))
        for rep in reports:  # up to the failing report, that one as a rerun
            if rep is failed:
                rep.outcome = "rerun"  # type: ignore[assignment]  # not a failure of the run
                rep.harness_attempt = attempt  # type: ignore[attr-defined]
                ihook.pytest_runtest_logreport(report=rep)
                break
            ihook.pytest_runtest_logreport(report=rep)
        _restore_stash(item, stash)
        ihook.pytest_harness_retry(item=item, attempt=attempt, reports=reports)
        item.user_properties[:] = properties
        attempt += 1
    if attempt > 1:
        _annotate(reports, attempt, earlier)
    for rep in reports:
        ihook.pytest_runtest_logreport(report=rep)
    ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


def _annotate(reports: list[pytest.TestReport], attempts: int,
              earlier: list[tuple[str, str]]) -> None:
    """The final attempt's reports say how many attempts there were and what failed before."""
    call = next((r for r in reports if r.when == "call"), None)
    flaky = call is not None and call.passed
    props: list[tuple[str, Any]] = [("harness_attempts", attempts)]
    if flaky:
        props.append(("harness_outcome", "flaky"))
    props += [(f"harness_attempt_{k}", text) for k, (_, text) in enumerate(earlier, 1)]
    history = "\n".join(f"attempt {k}: {short}" for k, (short, _) in enumerate(earlier, 1))
    for rep in reports:
        rep.harness_attempts = attempts  # type: ignore[attr-defined]
        rep.harness_earlier = [short for short, _ in earlier]  # type: ignore[attr-defined]
        rep.user_properties.extend(props)
        if rep.failed:
            rep.sections.append(("harness: earlier attempts", history))
    if flaky:
        assert call is not None
        call.harness_flaky = True  # type: ignore[attr-defined]


def _keep_logs(item: pytest.Item, attempt: int) -> str | None:
    """Move the failed attempt's log folder aside (``<log dir>.attempt-<k>``): the next attempt
    writes its logs where the test's logs always go. Returns a line saying where they went
    (None: the test left no logs)."""
    from .plugin import SETTINGS

    run = item.config.stash.get(SETTINGS, None)
    if run is None:
        return None
    log_dir = run.log_dir(item.nodeid)
    if not log_dir.is_dir():
        return None
    kept = log_dir.with_name(f"{log_dir.name}.attempt-{attempt}")
    shutil.rmtree(kept, ignore_errors=True)  # a former run's
    try:
        log_dir.rename(kept)
    except OSError as exc:
        return f"logs: not kept, the next attempt overwrites {log_dir} ({exc})"
    item.user_properties[:] = [(n, str(kept) if n == "log_dir" and v == str(log_dir) else v)
                               for n, v in item.user_properties]
    return f"logs: {kept}"


def _stash_state(item: pytest.Item) -> dict[Any, Any] | None:
    storage = getattr(item.stash, "_storage", None)
    return dict(storage) if isinstance(storage, dict) else None


def _restore_stash(item: pytest.Item, state: dict[Any, Any] | None) -> None:
    """What plugins stored on the item during an attempt (DUTs, deferred measurement
    failures...) goes; what was there before the first attempt stays."""
    storage = getattr(item.stash, "_storage", None)
    if state is not None and isinstance(storage, dict):
        storage.clear()
        storage.update(state)


# -- a fresh chip for the next attempt ---------------------------------------------------------
def pytest_harness_retry(item: pytest.Item, attempt: int,
                         reports: list[pytest.TestReport]) -> None:
    from . import plugin

    manager = item.config.stash.get(plugin._MANAGER, None)
    if manager is not None:
        manager.close_all()  # pools and shared DUTs: the next acquire starts a new chip
    from .ctest.pytest_plugin import CtestItem

    if isinstance(item, CtestItem):
        item._life().runner.close()  # the image's chip, kept across C tests otherwise


# -- reporting ---------------------------------------------------------------------------------
@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config):
    if report.outcome == "rerun":
        return "rerun", "R", ("RERUN", {"yellow": True})
    if report.when == "call" and getattr(report, "harness_flaky", False):
        return "flaky", "K", ("FLAKY", {"yellow": True})
    return None


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    stats = terminalreporter.stats
    lines: list[tuple[str, dict[str, bool]]] = []
    for rep in stats.get("flaky", []):
        earlier = "; ".join(f"attempt {k} failed in {short}"
                            for k, short in enumerate(getattr(rep, "harness_earlier", []), 1))
        lines.append((f"FLAKY {rep.nodeid} - {rep.harness_attempts} attempts, passed on the "
                      f"last; {earlier}", {"yellow": True}))
    seen = {rep.nodeid for rep in stats.get("flaky", [])}  # a flaky test's teardown error
    for rep in stats.get("failed", []) + stats.get("error", []):
        attempts = getattr(rep, "harness_attempts", 1)
        if attempts > 1 and rep.nodeid not in seen:
            seen.add(rep.nodeid)
            lines.append((f"FAILED {rep.nodeid} - failed all {attempts} attempts",
                          {"red": True}))
    if lines:
        terminalreporter.write_sep("=", "retried tests (--retry)", yellow=True)
        for text, markup in lines:
            terminalreporter.write_line(text, **markup)
