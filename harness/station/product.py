"""A product's station config (``targets/products/<product>.yaml``).

What the line needs to know about a product: its part number, the target (chip) it is built on,
the pattern every serial number must match, the acceptance suite to run per unit, and the limits
file. Paths are relative to the project root (the parent of ``targets/``).
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..config import load_model
from ..errors import ConfigError


class Product(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    part_number: str = Field(min_length=1)
    description: str = ""
    target: str = Field(description="the chip's target file name under targets/")
    serial_pattern: str = Field(description="regex a serial number must match in full")
    suite: list[str] = Field(min_length=1, description="pytest paths, relative to the root")
    limits: Path = Field(description="limits file, relative to the project root")
    pytest_args: list[str] = Field(default_factory=list)
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("serial_pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return v

    @property
    def root(self) -> Path:
        assert self.source is not None
        return self.source.parent.parent.parent  # targets/products/<name>.yaml → root


def products_dir(targets_dir: Path) -> Path:
    return Path(targets_dir) / "products"


def load_product(name_or_path: str | Path, targets_dir: Path = Path("targets")) -> Product:
    path = Path(name_or_path)
    if path.suffix != ".yaml":
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", str(name_or_path)):
            raise ConfigError(f"product name {str(name_or_path)!r}: expected lower-case "
                              f"letters, digits and '-'")
        path = products_dir(targets_dir) / f"{name_or_path}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in products_dir(targets_dir).glob("*.yaml"))
        raise ConfigError(f"{path}: product config not found; known products: "
                          f"{', '.join(known) or '(none)'}")
    product = load_model(path, Product, "product config")
    if product.name != path.stem:
        raise ConfigError(f"{path}: field 'name': {product.name!r} must match the file name")
    return product.model_copy(update={"source": path.resolve()})
