"""pytest fixtures of the cocotb world: ``rtl`` (one block per test) and ``rtl_factory``.

    @pytest.mark.rtl_block("qsm_pwm")
    def test_duty(rtl):
        rtl.regs.PWM.DUTY.write(30)
        rtl.wait_cycles(100)
        assert rtl.pins["pwm_h"] == 0

Options: ``--rtl-simulator icarus|verilator`` (default: ``$HARNESS_RTL_SIMULATOR`` or icarus),
``--rtl-waves`` / ``--no-rtl-waves``. Each block gets a run directory under
``<results>/rtl/<test>/``; the waveform (FST on Icarus, VCD on Verilator) of a failing test is
kept and attached to its report, a passing test's is deleted. A posted write that failed after
the test's last call fails the test's teardown with its error. Heavy imports happen only when
a fixture is used.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

_OPENED = pytest.StashKey["list"]()
_CALL = pytest.StashKey["pytest.TestReport"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("harness-rtl", "QSM Harness: RTL blocks under cocotb")
    g.addoption("--rtl-simulator", default=None, choices=("icarus", "verilator"),
                help="HDL simulator for RTL blocks (default: $HARNESS_RTL_SIMULATOR or icarus)")
    g.addoption("--rtl-waves", action=argparse_bool(), default=True,
                help="record waveforms (kept for failing tests; default on)")
    parser.addini("harness_rtl_blocks", "RTL block descriptions",
                  default="firmware/rtl/blocks.yaml")


def argparse_bool():
    import argparse

    return argparse.BooleanOptionalAction


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "rtl_block(name): the RTL block the `rtl` fixture opens")


def _root(config: pytest.Config) -> Path:
    from ...plugin import settings

    return settings(config).root


def _results(config: pytest.Config) -> Path:
    from ...plugin import settings

    return settings(config).results


@pytest.fixture(scope="session")
def rtl_simulator(request: pytest.FixtureRequest) -> str:
    return (request.config.getoption("rtl_simulator")
            or os.environ.get("HARNESS_RTL_SIMULATOR") or "icarus")


@pytest.fixture(scope="session")
def rtl_blocks(request: pytest.FixtureRequest):
    """Every RTL block description, by name."""
    from .blocks import load_blocks

    config = request.config
    return load_blocks(_root(config) / config.getini("harness_rtl_blocks"))


@pytest.fixture
def rtl_factory(request: pytest.FixtureRequest, rtl_blocks, rtl_simulator):
    """Open RTL blocks in simulators: ``rtl_factory("qsm_nec")``; all closed at the end."""
    from ...errors import ConfigError, DutLost
    from ...settings import safe_name
    from .rtl import open_rtl

    config = request.config
    item = request.node
    opened = item.stash.setdefault(_OPENED, [])
    from ...plugin import settings

    factor = settings(config).timeout_factor
    results = _results(config)

    def open_(name: str):
        if name not in rtl_blocks:
            raise ConfigError(f"unknown RTL block {name!r}; known: {', '.join(rtl_blocks)} "
                              f"(in {config.getini('harness_rtl_blocks')})")
        run_dir = results / "rtl" / safe_name(item.nodeid) / f"{name}-{len(opened)}"
        shutil.rmtree(run_dir, ignore_errors=True)
        r = open_rtl(rtl_blocks[name], simulator=rtl_simulator,
                     build_root=results / "rtl-build", run_dir=run_dir,
                     waves=config.getoption("rtl_waves"), timeout_factor=factor)
        opened.append(r)
        return r

    yield open_
    problems = []
    for r in opened:
        outcome = r.close()
        if outcome != "passed":
            problems.append(r.diagnosis())
    call = item.stash.get(_CALL, None)
    if call is not None and call.passed:
        late = next((r.uncollected for r in opened if r.uncollected is not None), None)
        if late is not None:  # a posted write failed after the test's last read: its error
            raise late
        for r in opened:  # a passing test leaves nothing behind
            shutil.rmtree(r.thread.run_dir, ignore_errors=True)
        if problems:
            raise DutLost("the simulation failed during a passing test:\n" + "\n".join(problems))


@pytest.fixture
def rtl(request: pytest.FixtureRequest, rtl_factory):
    """The block named by ``@pytest.mark.rtl_block(name)``, reset and ready."""
    marker = request.node.get_closest_marker("rtl_block")
    if marker is None or len(marker.args) != 1:
        pytest.fail("the `rtl` fixture needs @pytest.mark.rtl_block(\"<block name>\")")
    return rtl_factory(marker.args[0])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call":
        item.stash[_CALL] = report
    opened = item.stash.get(_OPENED, [])
    if report.failed and opened:
        for r in opened:
            wave = r.thread.wave_file
            if r.thread.waves:
                item.user_properties.append((f"waveform:{r.name}", str(wave)))
                report.sections.append((f"rtl waveform: {r.name}", str(wave)))
            report.sections.append((f"rtl: {r.name}", r.diagnosis()))
    return report
