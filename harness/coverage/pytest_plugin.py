"""``--firmware-coverage``: line coverage of the chip's firmware, per test (plugin
``harness-coverage``, with the ``coverage`` extra).

Options and ini keys only; the run itself (:class:`~harness.coverage.run.CoverageRun`) is
registered when coverage is on, so a run without it has no extra hooks.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("harness")
    g.addoption("--firmware-coverage", action="store_true", default=None,
                help="test each chip's coverage build (its build command with COVERAGE=1, "
                     "in build-cov/), read the coverage counters through the debug port "
                     "after every test and write gcovr reports to <results>/coverage/ "
                     "(ini firmware_coverage)")
    g.addoption("--no-firmware-coverage", action="store_false", dest="firmware_coverage",
                help="no firmware coverage, whatever the ini file says")
    parser.addini("firmware_coverage", "measure firmware coverage (--firmware-coverage)",
                  type="bool", default=False)
    parser.addini("firmware_coverage_exclude", "source files left out of coverage reports "
                  "(regular expressions matched against paths relative to the root, as "
                  "gcovr's --exclude)", type="linelist", default=[])
    parser.addini("firmware_coverage_gcov", "the toolchain's gcov",
                  default="arm-none-eabi-gcov")


def enabled(config: pytest.Config) -> bool:
    option = config.getoption("firmware_coverage")
    return bool(config.getini("firmware_coverage")) if option is None else bool(option)


@pytest.hookimpl(trylast=True)  # after the core plugin made the run's settings
def pytest_configure(config: pytest.Config) -> None:
    if enabled(config) and not config.pluginmanager.has_plugin("harness-coverage-run"):
        from .run import CoverageRun

        config.pluginmanager.register(CoverageRun(config), "harness-coverage-run")
