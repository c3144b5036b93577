"""``ctest.yaml``: which target a unit-test image runs on and how it is built."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..config import load_model

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
    return load_model(path, CtestManifest, "ctest manifest").model_copy(update={"source": path})
