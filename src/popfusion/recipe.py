"""Recipes: one YAML file describes a whole run (data, features, later models and fusion),
validated by pydantic. Presets ship with the package; a path to your own file works too.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

PRESETS = ("sample", "fast", "smp")


class DataSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str | None = Field(None, description="SMPD folder or CSV/Parquet/JSONL; none: the built-in sample")
    map: str | dict[str, str] | None = Field(None, description="column map for CSV/Parquet/JSONL")
    image_root: str | None = None


class BlockSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    block: str
    params: dict[str, Any] = Field(default_factory=dict)


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    data: DataSpec = Field(default_factory=DataSpec)
    features: list[BlockSpec]
    cache_dir: str | None = Field(None, description="feature cache; default: <popfusion cache>/features")


def load_recipe(name_or_path: str | Path) -> Recipe:
    """A preset by name (sample, fast, smp) or a YAML file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        text, source = path.read_text(), str(path)
    elif str(name_or_path) in PRESETS:
        text = resources.files("popfusion.recipes").joinpath(f"{name_or_path}.yaml").read_text()
        source = f"preset {name_or_path}"
    else:
        raise ValueError(f"no recipe {name_or_path!r}: give a YAML file or a preset ({', '.join(PRESETS)})")
    try:
        return Recipe.model_validate(yaml.safe_load(text))
    except ValidationError as err:
        raise ValueError(f"recipe {source} is not valid:\n{err}") from None
