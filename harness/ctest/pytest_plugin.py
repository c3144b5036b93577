"""Collects ``ctest.yaml`` files: one pytest item per C test of a chip's unit-test image.

Registered as the ``harness-ctest`` pytest11 entry point. Imports nothing heavy at start-up:
pydantic, pyelftools and the worlds load when a ``ctest.yaml`` is actually collected.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr

    from .image import CCase

MANIFEST_NAME = "ctest.yaml"
_RUNNERS = pytest.StashKey["dict[str, _ChipLife]"]()


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.name == MANIFEST_NAME:
        return CtestFile.from_parent(parent, path=file_path)
    return None


def pytest_sessionfinish(session: pytest.Session) -> None:
    for life in session.config.stash.get(_RUNNERS, {}).values():
        life.runner.close()


class CtestFailure(AssertionError):
    """A C test failed (or crashed the chip): the chip is wrong, not the harness."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
        self.message = message


class CtestFile(pytest.File):
    """One unit-test image: builds it when stale and lists its tests from the ELF."""

    def collect(self):
        from .. import plugin
        from ..firmware import build, load_image
        from .image import read_cases
        from .manifest import load_manifest

        config = self.config
        run = plugin.settings(config)
        self.manifest = load_manifest(self.path)
        root = run.root
        mgr = plugin.manager(config)
        self.target = mgr.target(self.manifest.target)
        command, elf = mgr.firmware_build(self.manifest.build, root / self.manifest.elf)
        if run.build and command is not None:
            build(command, elf, [root / s for s in self.manifest.sources], root)
        self.image = load_image(elf)
        selected = self.manifest.target in plugin.selected_targets(config)
        for case in read_cases(self.image):
            item = CtestItem.from_parent(self, name=case.id, case=case)
            if not selected:
                item.add_marker(pytest.mark.skip(
                    reason=f"target {self.manifest.target} not selected (--target)"))
            yield item

    def repr_failure(  # type: ignore[override]  # pytest's Collector drops Node's style
            self, excinfo: pytest.ExceptionInfo[BaseException]) -> str | TerminalRepr:
        from ..errors import HarnessError

        if excinfo.errisinstance(HarnessError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class CtestItem(pytest.Item):
    def __init__(self, *, case: CCase, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    @property
    def image_file(self) -> CtestFile:
        """The unit-test image this C test belongs to (its collector)."""
        parent = self.parent
        assert isinstance(parent, CtestFile), "a C test is collected from a ctest.yaml"
        return parent

    def _c_path(self, file: str) -> Path:
        """A C file as compiled (``__FILE__``: relative to the manifest's source_dir)."""
        root = Path(self.config.rootpath)
        path = root / self.image_file.manifest.source_dir / file
        return path if path.exists() else Path(file)

    @property
    def source_file(self) -> Path:
        return self._c_path(self.case.file)

    def reportinfo(self):
        return self.source_file, self.case.line - 1, f"C test {self.case.id}"

    def _life(self) -> _ChipLife:
        lives = self.config.stash.setdefault(_RUNNERS, {})
        key = str(self.image_file.path)
        if key not in lives:
            lives[key] = _ChipLife(self.config, self.image_file)
        return lives[key]

    def runtest(self) -> None:
        from .. import plugin

        world = plugin.manager(self.config).world
        if "console" not in world.capabilities:
            pytest.skip(f"the {world.name} world lacks console (C tests report on it)")
        f = self.image_file
        self.user_properties += [("target", f.target.name), ("world", world.name),
                                 ("firmware", str(f.image.path)),
                                 ("firmware_sha256", f.image.sha256)]
        life = self._life()
        life.item = self  # the power hooks of a (re)opened chip see the test that needs it
        result = life.runner.run(self.case)
        if result.outcome == "passed":
            return
        where = ""
        if result.file:
            where = f"{self._display(result.file)}:{result.line}"
        if result.outcome == "skipped":
            # reported at the C test's location (reportinfo), not at this line
            raise pytest.skip.Exception(f"{where}: {result.message}", _use_item_location=True)
        if result.outcome == "crashed":
            where = f"{self._display(self.case.file)}:{self.case.line}"
            raise CtestFailure(where, f"{self.case.id} crashed the chip: {result.message}")
        raise CtestFailure(where, result.message)

    def _display(self, file: str) -> str:
        path = self._c_path(file)
        root = Path(self.config.rootpath)
        return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)

    def repr_failure(self, excinfo, style=None):
        from ..errors import HarnessError

        if excinfo.errisinstance(CtestFailure):
            return f"C test {self.case.id} failed\n{excinfo.value}"
        if excinfo.errisinstance(HarnessError):
            return f"C test {self.case.id}: harness error\n{excinfo.value}"
        return super().repr_failure(excinfo, style=style)


class _ChipLife:
    """Opens the C test image's chip through the run's DutManager, inside the same power
    hooks as a ``dut`` fixture (bench supply on before the boot, off after the close)."""

    def __init__(self, config: pytest.Config, ctest_file: CtestFile) -> None:
        from .. import plugin

        self.config = config
        self.run = plugin.settings(config)
        self.manager = plugin.manager(config)
        self.target, self.image = ctest_file.target, ctest_file.image
        self.log_dir = self.run.log_dir(f"ctest-{self.target.name}-{self.run.worker}")
        self.item: pytest.Item | None = None  # the C test running now (set per test)
        self.opened_by: pytest.Item | None = None
        self.powered = False
        from .runner import CtestRunner

        self.runner = CtestRunner(self.open, ctest_file.manifest.timeout,
                                  on_close=self.power_off)

    def open(self):
        hook = self.config.hook
        # the hooks of one chip's life see the test that opened it, power-off included
        self.opened_by = self.item
        hook.pytest_harness_power_on(target=self.target, slot=self.run.slot, item=self.item)
        self.powered = True
        try:
            dut = self.manager.open(self.target, self.log_dir, name=f"{self.target.name}-ctest",
                                    image=self.image)
            hook.pytest_harness_dut_ready(dut=dut, slot=self.run.slot, item=self.item)
        except BaseException:
            self.power_off()
            raise
        return dut

    def power_off(self) -> None:
        if self.powered:
            self.powered = False
            self.config.hook.pytest_harness_power_off(target=self.target, slot=self.run.slot,
                                                      item=self.opened_by)
