"""Which build of a firmware a coverage run tests: the instrumented variant of the usual one.

The convention (the project's ``firmware/Makefile`` follows it): a ``make`` build command
builds the coverage variant with ``COVERAGE=1`` added, into a tree beside the usual one —
the last path component ``build`` of the image path becomes ``build-cov`` — so the usual
images are never touched. An image built some other way (a prebuilt file, another build
tool, ``--firmware``) is tested as it is; if it carries no coverage records, the run says
so and goes on without coverage for it.
"""

from __future__ import annotations

from pathlib import Path

VARIABLE = "COVERAGE=1"
BUILD_DIR, COVERAGE_DIR = "build", "build-cov"


def coverage_variant(build: list[str] | None,
                     image: Path) -> tuple[list[str], Path] | None:
    """(command, image) of the coverage variant of an image built by ``build``; None when
    the convention does not apply (no ``make`` command, no ``build`` directory in the path)."""
    if not build or Path(build[0]).name not in ("make", "gmake"):
        return None
    parts = list(Path(image).parts)
    if BUILD_DIR not in parts:
        return None
    parts[len(parts) - 1 - parts[::-1].index(BUILD_DIR)] = COVERAGE_DIR
    command = [*build] if VARIABLE in build else [*build, VARIABLE]
    return command, Path(*parts)
