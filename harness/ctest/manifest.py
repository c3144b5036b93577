"""``ctest.yaml``: which target a unit-test image runs on and how it is built."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigError

MANIFEST_NAME = "ctest.yaml"


class CtestManifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str = Field(description="targets/<name>.yaml the image runs on (board, consoles)")
    build: list[str] = Field(min_length=1, description="command that builds the test image")
    elf: Path = Field(description="where the ELF lands, relative to the project root")
    sources: list[Path] = Field(default_factory=list, description="inputs; newer → rebuild")
    source_dir: Path = Field(default=Path("firmware"),
                             description="what the C sources' __FILE__ paths are relative to "
                                         "(the directory make runs in), from the project root")
    timeout: float = Field(default=10.0, gt=0, description="seconds one C test may take")
    source: Path | None = Field(default=None, exclude=True)


def load_manifest(path: Path) -> CtestManifest:
    """Read one manifest; errors name the file and the field."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: ctest manifest not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of fields, got {type(raw).__name__}")
    try:
        manifest = CtestManifest.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            loc = ".".join(str(p) for p in e["loc"]) or "<top level>"
            msg = "unknown field (typo?)" if e["type"] == "extra_forbidden" else e["msg"]
            problems.append(f"field '{loc}': {msg}")
        raise ConfigError(f"{path}: invalid ctest manifest:\n  " + "\n  ".join(problems)) from None
    return manifest.model_copy(update={"source": path})
