"""``--shard K/N``: split the tests over N CI jobs so that together they run each test once.

Job K (1-based) keeps the tests whose key hashes to K-1 modulo N and deselects the others
(they count as "deselected" in the summary). The ini key ``harness_shard`` gives the same
value; the option wins. ``--shard-by test|module`` (ini ``harness_shard_by``) chooses the
key.

Assignment. The key is the test's node id (``--shard-by test``, the default) or the part of
it before the first ``::`` (``--shard-by module``: every test of one file in the same job);
its sha256, read as an integer, modulo N picks the job. So a test's job depends on its id and
N alone: not on Python's salted ``hash()``, the Python version, the machine, the process, the
collection order or which other tests were collected. Node ids are relative to the rootdir
with ``/`` separators, so every job must run from a checkout with the same rootdir (the
repository root: where tox.ini lies). Parametrized tests are split by their full node id
(``test_x[a]`` and ``test_x[b]`` may land in different jobs under ``--shard-by test``).

Why hash each test, not sort the collected set and deal it out round-robin: dealing gives
perfectly even jobs but only when every job collects exactly the same set; one collection
difference between machines (a module skipped at import on one platform, a parameter list
built from what is installed) would shift the assignment of every later test, and tests would
run twice or never without anyone noticing. A hash per test cannot do that; the price is that
the jobs are only statistically even (a few tests over many jobs may leave a job empty, see
below).

Why ``test`` by default, not ``module``: per test the jobs balance far better (a suite is a
handful of large modules per chip, and one module of slow tests would make one job the
long pole), while the harness's default DUT handling loses little from the split: function
scoped DUTs come from a per-process pool of warm chips, so a job boots at most one chip per
target whichever tests it gets. ``--shard-by module`` is for runs where a module's setup is
what costs (``--dut-scope module``, expensive module-scoped fixtures): each module then sets up
in one job only.

Order with ``-k``, ``-m`` and ``--deselect``: the shard is taken last (``trylast``), over what
those left selected; "M of T" counts that set. As a test's job depends only on its own id,
taking the shard before or after them makes no difference to which job runs a test; all jobs
just have to use the same ``-k``/``-m`` for the union to be the selection.

pytest-xdist: every worker collects and deselects identically (the hash is a pure function of
the id), so workers agree on the collection as xdist requires; the controller does not collect,
and prints the shard line in its terminal summary from what the first worker reports. The
"N deselected" count appears only without ``-n`` (xdist does not forward deselections, the
same as for ``-k``).

A job left with no test is not a pass: pytest's exit status 5 (no tests collected) stands.
Each job prints ``harness: shard K/N: M of T tests``.

Only pytest is imported at start-up.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, NamedTuple

import pytest

BY = ("test", "module")
USAGE = "expected K/N: whole numbers with 1 <= K <= N, e.g. --shard 2/4 (job 2 of 4)"
_FORM = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


class Shard(NamedTuple):
    k: int  # 1-based
    n: int
    by: str  # "test" or "module"

    def __str__(self) -> str:
        return f"{self.k}/{self.n}"


_SHARD = pytest.StashKey["Shard | None"]()
_COUNTS = pytest.StashKey[tuple[int, int]]()  # (kept, of)


def parse(value: str, where: str = "--shard") -> tuple[int, int]:
    """``"K/N"`` → ``(K, N)``; a :class:`pytest.UsageError` naming ``where`` otherwise."""
    m = _FORM.fullmatch(value)
    if m is not None:
        k, n = int(m.group(1)), int(m.group(2))
        if 1 <= k <= n:
            return k, n
    raise pytest.UsageError(f"{where} {value!r}: {USAGE}")


def key(nodeid: str, by: str = "test") -> str:
    """What decides a test's job: its node id, or its file's part of it."""
    return nodeid.split("::", 1)[0] if by == "module" else nodeid


def index(nodeid: str, n: int, by: str = "test") -> int:
    """The 0-based job (``K - 1``) of the test ``nodeid`` among ``n``."""
    digest = hashlib.sha256(key(nodeid, by).encode("utf-8")).digest()
    return int.from_bytes(digest, "big") % n


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("harness", "QSM Harness")
    g.addoption("--shard", default=None, metavar="K/N",
                help="run only job K of N (1 <= K <= N): the tests whose id hashes to it, so N "
                     "jobs together run every test once (default: ini harness_shard, else all)")
    g.addoption("--shard-by", default=None, choices=BY,
                help="what --shard assigns to a job: each 'test' (default) or each 'module' "
                     "(file) as a whole (default: ini harness_shard_by, else test)")
    parser.addini("harness_shard", "run only job K/N of the tests (as --shard)", default="")
    parser.addini("harness_shard_by", "what a shard job gets: test or module (as --shard-by)",
                  default="test")


def _shard(config: pytest.Config) -> Shard | None:
    value = config.getoption("shard")
    where = "--shard"
    if value is None:
        value = str(config.getini("harness_shard")).strip()
        where = "ini harness_shard ="
        if not value:
            return None
    by = config.getoption("shard_by")
    if by is None:
        by = str(config.getini("harness_shard_by")).strip() or "test"
        if by not in BY:
            raise pytest.UsageError(f"ini harness_shard_by = {by!r}: expected one of "
                                    f"{', '.join(BY)}")
    k, n = parse(value, where)
    return Shard(k, n, by)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SHARD] = _shard(config)


def _key_id(item: pytest.Item) -> str:
    """The item's node id as collected: ``--dist loadgroup`` appends ``@<group>`` to the ids of
    tests marked ``xdist_group``, which a run without it does not."""
    nodeid = item.nodeid
    if getattr(item.config.option, "loadgroup", False) \
            and item.get_closest_marker("xdist_group") is not None:
        nodeid = nodeid.rpartition("@")[0] or nodeid
    return nodeid


@pytest.hookimpl(trylast=True)  # after -k, -m and --deselect: the shard of what they left
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    shard = config.stash.get(_SHARD, None)
    if shard is None:
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        (keep if index(_key_id(item), shard.n, shard.by) == shard.k - 1 else drop).append(item)
    config.stash[_COUNTS] = (len(keep), len(items))
    workeroutput = getattr(config, "workeroutput", None)
    if isinstance(workeroutput, dict):  # an xdist worker: the controller prints the line
        workeroutput["harness_shard"] = (len(keep), len(items))
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _line(shard: Shard, kept: int, of: int) -> str:
    by = " (by module)" if shard.by == "module" else ""
    return f"harness: shard {shard}: {kept} of {of} tests{by}"


def pytest_report_collectionfinish(config: pytest.Config) -> str | None:
    shard = config.stash.get(_SHARD, None)
    counts = config.stash.get(_COUNTS, None)
    if shard is None or counts is None:
        return None
    return _line(shard, *counts)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: keep what the first worker to finish reported."""
    config = node.config
    counts = getattr(node, "workeroutput", {}).get("harness_shard")
    if counts is not None and _COUNTS not in config.stash:
        config.stash[_COUNTS] = tuple(counts)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int,
                            config: pytest.Config) -> None:
    shard = config.stash.get(_SHARD, None)
    counts = config.stash.get(_COUNTS, None)
    if shard is None or counts is None or config.pluginmanager.get_plugin("dsession") is None:
        return  # not the xdist controller: the line came at collection finish
    terminalreporter.write_line(_line(shard, *counts))
