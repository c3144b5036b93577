"""Collects ``ctest.yaml`` files: one pytest item per C test of a chip's unit-test image.

Registered as the ``harness-ctest`` pytest11 entry point. Imports nothing heavy at start-up:
pydantic, pyelftools and the worlds load when a ``ctest.yaml`` is actually collected.
"""

from __future__ import annotations

from pathlib import Path

import pytest

MANIFEST_NAME = "ctest.yaml"
_RUNNERS = pytest.StashKey["dict"]()


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.name == MANIFEST_NAME:
        return CtestFile.from_parent(parent, path=file_path)
    return None


def pytest_sessionfinish(session: pytest.Session) -> None:
    for runner in session.config.stash.get(_RUNNERS, {}).values():
        runner.close()


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
        from ..config import TargetCatalog
        from ..firmware import build, load_image
        from .image import read_cases
        from .manifest import load_manifest

        config = self.config
        self.manifest = load_manifest(self.path)
        root = Path(config.rootpath)
        catalog = TargetCatalog(plugin._targets_dir(config))
        self.target = catalog.get(self.manifest.target)
        elf = root / self.manifest.elf
        if not config.getoption("no_build"):
            build(self.manifest.build, elf, [root / s for s in self.manifest.sources], root)
        self.image = load_image(elf)
        selected = self.manifest.target in plugin.selected_targets(config)
        for case in read_cases(self.image):
            item = CtestItem.from_parent(self, name=case.id, case=case)
            if not selected:
                item.add_marker(pytest.mark.skip(
                    reason=f"target {self.manifest.target} not selected (--target)"))
            yield item

    def repr_failure(self, excinfo):
        from ..errors import HarnessError

        if excinfo.errisinstance(HarnessError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class CtestItem(pytest.Item):
    def __init__(self, *, case, **kwargs) -> None:
        super().__init__(**kwargs)
        self.case = case

    def _c_path(self, file: str) -> Path:
        """A C file as compiled (``__FILE__``: relative to the manifest's source_dir)."""
        root = Path(self.config.rootpath)
        path = root / self.parent.manifest.source_dir / file
        return path if path.exists() else Path(file)

    @property
    def source_file(self) -> Path:
        return self._c_path(self.case.file)

    def reportinfo(self):
        return self.source_file, self.case.line - 1, f"C test {self.case.id}"

    def _runner(self):
        runners = self.config.stash.setdefault(_RUNNERS, {})
        key = str(self.parent.path)
        if key not in runners:
            runners[key] = _make_runner(self.config, self.parent)
        return runners[key]

    def runtest(self) -> None:
        from .. import worlds

        world = worlds.get(self.config.getoption("world"))
        if "console" not in world.capabilities:
            pytest.skip(f"the {world.name} world lacks console (C tests report on it)")
        f = self.parent
        self.user_properties += [("target", f.target.name), ("world", world.name),
                                 ("firmware", str(f.image.path)),
                                 ("firmware_sha256", f.image.sha256)]
        result = self._runner().run(self.case)
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


def _make_runner(config: pytest.Config, ctest_file: CtestFile):
    from .. import plugin, worlds
    from ..session import safe_name
    from .runner import CtestRunner

    world = worlds.get(config.getoption("world"))
    target, image = ctest_file.target, ctest_file.image
    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    log_dir = plugin._results_dir(config) / "logs" / safe_name(
        f"ctest-{target.name}-{worker}")

    def open_dut():
        from ..errors import ConfigError

        if world.name == "qemu" and target.qemu is None:
            raise ConfigError(f"{target.source}: no 'qemu' section; {target.name} cannot run "
                              f"in the qemu world")
        return world.open(target, image, name=f"{target.name}-ctest", log_dir=log_dir,
                          timeout_factor=config.getoption("timeout_factor"),
                          probe=config.getoption("probe"), boot=True)

    return CtestRunner(open_dut, ctest_file.manifest.timeout)
