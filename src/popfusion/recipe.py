"""Recipes: one YAML file describes a whole run (data, features, later models and fusion),
validated by pydantic. Presets ship with the package; a path to your own file works too.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

PRESETS = ("sample", "fast", "smp", "serve")


class DataSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str | None = Field(None, description="SMPD folder or CSV/Parquet/JSONL; none: the built-in sample")
    map: str | dict[str, str] | None = Field(None, description="column map for CSV/Parquet/JSONL")
    image_root: str | None = None
    crawled: str | None = Field(None, description="crawled user totals (popfusion crawl users) to join")
    time_format: str | None = Field(None, description="dates whose order is ambiguous (07/02/2016): dayfirst, "
                                                      "monthfirst, or a strptime format")


class BlockSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    block: str
    params: dict[str, Any] = Field(default_factory=dict)


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    model: str = Field(description="lightgbm, catboost, ridge, mlp, tabnet, dae_cnn, text_regressor")
    features: list[str] = Field(default_factory=lambda: ["all"], description="meta, user, text, image, all")
    params: dict[str, Any] = Field(default_factory=dict)


class ValidationSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    holdout: float = Field(0.2, gt=0, lt=1, description="last share of training time held out")
    folds: int = Field(3, ge=2)
    scheme: Literal["time", "user", "random"] = "time"
    holdout_by: Literal["folds", "refit"] = Field(
        "folds", description="what predicts the hold-out: the mean of each model's fold models, or the "
                             "model refitted on every training row (one more fit a model, the stage's "
                             "largest; scored no better on four data sets, benchmarks/trainer.py)")
    weight: Literal["none", "adversarial"] = Field(
        "none", description="adversarial: weight each training post by how much it looks like the posts to "
                            "predict (odds of an out-of-fold classifier on label-free features; "
                            "popfusion data describe --adversarial shows it)")


class PseudoSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rounds: int = Field(0, ge=0)
    share: float = Field(0.3, gt=0, le=1, description="share of test posts pseudo-labelled a round")


class FusionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["weights", "rank", "ridge", "catboost"] = "weights"
    mae_weight: float = Field(0.01, ge=0, description="weight search: SRC - mae_weight * MAE")
    forward: bool = Field(True, description="the final blend's weights must also hold on the validation "
                                            "models' forward-in-time hold-out predictions "
                                            "(least worst-case regret over both views)")
    prune: bool = Field(True, description="pseudo-label rounds and the final fit fit only the models "
                                          "the blend gives weight to (in the final fit: the final blend, "
                                          "held to the hold-out)")


class ComputeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ray: str | None = Field(None, description="run embeddings and model fits on Ray: auto (a local cluster of "
                                              "this machine's cores) or a cluster address; none: this process")
    retries: int = Field(3, ge=0, description="times Ray reruns a task whose worker died")
    cpus: int | None = Field(None, ge=1, description="CPUs a model fit asks for (default: as many as this "
                                                     "machine has, capped at a node's, so results match a "
                                                     "run without Ray bit for bit; fewer packs more fits "
                                                     "on a node)")


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    data: DataSpec = Field(default_factory=DataSpec)
    features: list[BlockSpec]
    models: list[ModelSpec] = Field(default_factory=list)
    validation: ValidationSpec = Field(default_factory=ValidationSpec)
    label_transform: Literal["none", "standard", "rankgauss"] = "none"
    drift: Literal["none", "shift", "trend", "auto"] = Field(
        "auto", description="none, shift, trend (carried into the test period, damped), or auto: "
                            "whichever wins rolling-origin backtests on the hold-out")
    pseudo: PseudoSpec = Field(default_factory=PseudoSpec)
    fusion: FusionSpec = Field(default_factory=FusionSpec)
    seed: int = 0
    bootstrap: int = Field(200, ge=0, description="bootstrap resamples for metric intervals")
    cache_dir: str | None = Field(None, description="feature cache; default: <popfusion cache>/features")
    compute: ComputeSpec = Field(default_factory=ComputeSpec)


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
        recipe = Recipe.model_validate(yaml.safe_load(text))
    except ValidationError as err:
        raise ValueError(f"recipe {source} is not valid:\n{err}") from None
    check(recipe, source)
    return recipe


def check(recipe: Recipe, source: str | None = None) -> Recipe:
    """Every block, model and feature group the recipe names exists and takes the
    parameters it is given: a typo stops the run before any data is read, not after the
    features are built."""
    from popfusion.features.pipeline import make_block
    from popfusion.models.zoo import make_model
    from popfusion.registry import did_you_mean
    from popfusion.training.ensemble import GROUPS

    where = f"recipe {source or recipe.name}"
    problems = []
    for i, b in enumerate(recipe.features):
        try:
            make_block(b.block, b.params)
        except ValueError as err:
            problems.append(f"features[{i}]: {err}")
    names = [m.name for m in recipe.models]
    for i, m in enumerate(recipe.models):
        try:
            make_model(m.model, m.params)
        except ValueError as err:
            problems.append(f"models[{i}] ({m.name}): {err}")
        for g in m.features:
            if g not in GROUPS:
                problems.append(f"models[{i}] ({m.name}): unknown feature group {g!r}"
                                f"{did_you_mean(g, GROUPS)}; known: {', '.join(GROUPS)}")
        if names.count(m.name) > 1:
            problems.append(f"models[{i}]: the name {m.name!r} is used twice; each model needs its own")
    if problems:
        raise ValueError(f"{where} is not valid:\n" + "\n".join(f"  {p}" for p in dict.fromkeys(problems)))
    return recipe
