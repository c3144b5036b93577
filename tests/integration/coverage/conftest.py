"""Firmware coverage against real chips: the washer's coverage build in QEMU, directly and
through pyOCD's qemu: probe; gcov and gcovr from the toolchain and the venv.

These tests open the world they prove themselves (whatever ``--world`` says), like
tests/integration/pyocd.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness import firmware as fw
from harness import worlds
from harness.coverage.counters import CounterReader
from harness.coverage.gcov_info import read_instrumentation
from harness.coverage.variant import coverage_variant

ROOT = Path(__file__).resolve().parents[3]
WORLDS = [pytest.param("qemu", id="qemu"), pytest.param("pyocd", id="pyocd")]


@pytest.fixture
def washer(target):
    """The washer target (the test modules select it with @targets)."""
    assert target.name == "qsm-washer"
    return target


@pytest.fixture
def coverage_image(washer):
    """The washer's coverage build (make ... COVERAGE=1, in firmware/build-cov/)."""
    spec = washer.firmware
    variant = coverage_variant(spec.build, ROOT / spec.path)
    assert variant is not None, "the washer target's build has a coverage variant"
    command, path = variant
    fw.build(command, path, [ROOT / s for s in spec.sources], ROOT)
    return fw.load_image(path, spec.version_symbol)


@pytest.fixture
def reader(coverage_image):
    return CounterReader(read_instrumentation(coverage_image.path))


def world_settings(settings, world: str):
    """The run's settings for ``world`` (pyocd: an emulated chip behind the qemu: probe)."""
    return dataclasses.replace(settings, world=world,
                               probe="qemu:auto" if world == "pyocd" else None)


def open_chip(world: str, target, image, settings, name: str, boot: bool = True):
    run = world_settings(settings, world)
    return worlds.get(world).open(target, image, name=name, boot=boot,
                                  log_dir=settings.results / "logs" / "coverage", settings=run)


def source_lines(rel: str) -> list[str]:
    return (ROOT / rel).read_text().splitlines()


def function_lines(rel: str, signature: str) -> range:
    """Line numbers (1-based) of the C function whose definition starts with ``signature``,
    up to its closing brace in column 0."""
    text = source_lines(rel)
    first = next(i for i, line in enumerate(text, 1) if line.startswith(signature))
    last = next(i for i, line in enumerate(text, 1) if i > first and line == "}")
    return range(first, last + 1)
