"""Recipes, the feature pipeline and `popfusion features build`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from popfusion import load
from popfusion.cli import app
from popfusion.features.pipeline import build_features, make_block
from popfusion.recipe import PRESETS, load_recipe

RECIPE = """
name: tiny
features:
  - block: meta
    params: {language: false}
  - block: user
  - block: text
    params: {backend: tfidf, dim: 8, fields: [joined]}
  - block: imgstat
"""


@pytest.mark.parametrize("name", PRESETS)
def test_presets_are_valid_and_name_known_blocks(name: str) -> None:
    recipe = load_recipe(name)
    assert recipe.name == name
    for spec in recipe.features:
        make_block(spec.block, spec.params)


def test_bad_recipes_are_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("name: x\nfeatures: [{block: meta, parms: {}}]\n")
    with pytest.raises(ValueError, match="not valid"):
        load_recipe(path)
    with pytest.raises(ValueError, match="unknown feature block 'nope'"):
        make_block("nope")
    with pytest.raises(ValueError, match="feature block 'user' has no parameter 'windw'"):
        make_block("user", {"windw": 3})
    with pytest.raises(ValueError, match="no recipe"):
        load_recipe("no-such-preset")


def test_build_then_reuse(synth_small: Path, tmp_path: Path) -> None:
    posts = load(synth_small)
    recipe_path = tmp_path / "tiny.yaml"
    recipe_path.write_text(RECIPE)
    blocks = [make_block(b.block, b.params) for b in load_recipe(recipe_path).features]
    frame, results = build_features(posts, blocks, tmp_path / "cache")
    assert len(frame) == len(posts) and frame.index.equals(posts.index)
    assert not any(r.cached for r in results)
    assert frame.columns.is_unique and all(frame.dtypes == "float32")
    again, results = build_features(posts, blocks, tmp_path / "cache")
    assert all(r.cached for r in results)
    assert again.equals(frame)


def test_cli_features_build(synth_small: Path, tmp_path: Path) -> None:
    recipe_path = tmp_path / "tiny.yaml"
    recipe_path.write_text(RECIPE)
    args = ["features", "build", str(recipe_path), "--data", str(synth_small), "--cache", str(tmp_path / "c")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "built" in result.output and "1500 posts" in result.output
    result = CliRunner().invoke(app, args)
    assert result.output.count("hit") == 4


def test_a_label_free_block_is_built_once_across_stages(tmp_path: Path) -> None:
    """The validation stage hides the hold-out's labels and calls it test; blocks that
    read no labels see the same posts in both stages, so the final stage reads them from
    the cache, while blocks that read labels are built again."""
    from popfusion.api import PopFusion
    from popfusion.data.synthetic import SynthSpec, generate
    from popfusion.recipe import Recipe

    posts = load(generate(tmp_path / "smpd", SynthSpec(posts=400, seed=2, images=False), progress=False),
                 vectors=False)
    recipe = Recipe.model_validate({
        "name": "twice", "features": [{"block": "meta", "params": {"language": False}}, {"block": "user"},
                                      {"block": "text", "params": {"backend": "tfidf", "dim": 4}}],
        "models": [{"name": "ridge", "model": "ridge"}], "validation": {"holdout": 0.25, "folds": 2},
        "bootstrap": 0})
    model = PopFusion(recipe, cache_dir=tmp_path / "cache").fit(posts)
    final = {b["name"]: b["cached"] for b in model.feature_summary_["final"]}
    assert final == {"meta": True, "user": False, "text": True}


def test_a_recipe_with_typos_is_refused_before_any_data_is_read(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nfeatures: [{block: metaa}, {block: user, params: {shrinkk: 3}}]\n"
                   "models:\n  - {name: a, model: lightgbmm}\n"
                   "  - {name: b, model: lightgbm, features: [alll]}\n  - {name: b, model: ridge}\n")
    with pytest.raises(ValueError) as err:
        load_recipe(bad)
    message = str(err.value)
    for expected in ("'metaa' (did you mean 'meta'?)", "no parameter 'shrinkk' (did you mean 'shrink'?)",
                     "'lightgbmm' (did you mean 'lightgbm'?)", "'alll' (did you mean 'all'?)",
                     "'b' is used twice"):
        assert expected in message
    result = CliRunner().invoke(app, ["run", str(bad), "--data", str(tmp_path / "nowhere.csv")])
    assert result.exit_code == 1 and "did you mean 'meta'" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("shape", [(3000, 512, 32), (3000, 512, 300), (2000, 64, 1)])
def test_row_products_are_the_same_alone_in_a_batch_and_on_one_thread(shape: tuple[int, int, int]) -> None:
    """A 512-d float32 row on 32 axes once came out three ways (alone, in a batch, on one
    thread) from BLAS; a post's features must not depend on what it is scored with."""
    from threadpoolctl import threadpool_limits

    from popfusion.linalg import row_products

    n, d, k = shape
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(n, d)).astype(np.float32), rng.normal(size=(k, d)).astype(np.float32)
    batch = row_products(a, b)
    with threadpool_limits(1):
        np.testing.assert_array_equal(row_products(a, b), batch)
    for i in range(0, n, 37):
        np.testing.assert_array_equal(row_products(a[i : i + 1], b)[0], batch[i])
    np.testing.assert_allclose(batch, a.astype(np.float64) @ b.T.astype(np.float64), rtol=1e-5, atol=1e-4)
    assert batch.dtype == np.float32
