"""The external block: features from another team's file, joined by post id, with every
way such a file can be wrong refused by name."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from popfusion.data.schema import DataError
from popfusion.features.pipeline import make_block
from popfusion.names import family

POSTS = pd.DataFrame({"post_id": ["p1", "p2", "p3"]}, index=[10, 11, 12])
FILE = pd.DataFrame({"post_id": ["p3", "p1", "p2", "p9"], "score": [3.0, 1.0, 2.0, 9.0],
                     "views": [30, 10, 20, 90]})


def _block(path: Path, **params):
    return make_block("external", {"path": str(path), **params})


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npz"])
def test_features_join_by_post_id_whatever_the_file_order(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"f{suffix}"
    if suffix == ".csv":
        FILE.to_csv(path, index=False)
    elif suffix == ".parquet":
        FILE.to_parquet(path)
    else:
        np.savez(path, post_id=FILE["post_id"].to_numpy(str), features=FILE[["score", "views"]].to_numpy())
    out = _block(path, prefix="team_").fit_transform(POSTS)
    assert list(out.index) == [10, 11, 12]
    assert out.iloc[:, 0].tolist() == [1.0, 2.0, 3.0] and out.iloc[:, 1].tolist() == [10.0, 20.0, 30.0]
    assert all(c.startswith("external_team_") for c in out.columns)
    assert family(out.columns[0]) == "external"


def test_posts_without_a_row_are_counted_and_refused_or_left_empty(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    FILE[FILE["post_id"] != "p2"].to_csv(path, index=False)
    with pytest.raises(DataError, match=r"no row for 1 of 3 posts \(post_id p2\).*missing: fill"):
        _block(path).fit_transform(POSTS)
    out = _block(path, missing="fill", columns=["score"]).fit_transform(POSTS)
    assert out["external_score"].isna().tolist() == [False, True, False]


@pytest.mark.parametrize(("table", "params", "said"), [
    (FILE.assign(post_id=["p1", "p1", "p2", "p3"]), {}, "1 post ids appear more than once"),
    (FILE.assign(views=["10", "x", "20", "1"]), {}, "column 'views' is not numeric (post_id p1: 'x')"),
    (FILE.rename(columns={"post_id": "id"}), {}, "no id column 'post_id'"),
    (FILE, {"columns": ["likes"]}, "no column 'likes'"),
])
def test_a_wrong_file_is_one_clear_error(tmp_path: Path, table: pd.DataFrame, params: dict, said: str) -> None:
    path = tmp_path / "f.csv"
    table.to_csv(path, index=False)
    with pytest.raises(DataError, match=re.escape(said)):
        _block(path, **params).fit(POSTS)


def test_numbers_written_as_text_are_read_as_numbers(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    FILE.assign(views=FILE["views"].astype(str)).to_csv(path, index=False)
    assert _block(path).fit_transform(POSTS)["external_views"].tolist() == [10.0, 20.0, 30.0]


def test_an_edited_file_is_joined_again_not_read_from_the_cache(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    FILE.to_csv(path, index=False)
    before = _block(path).fingerprint()
    FILE.assign(score=FILE["score"] + 1).to_csv(path, index=False)
    assert _block(path).fingerprint() != before


def test_a_run_with_posts_missing_from_the_file_stops_with_one_message(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    FILE.to_csv(path, index=False)
    recipe = tmp_path / "r.yaml"
    block = {"block": "external", "params": {"path": str(path)}}
    model = {"name": "ridge", "model": "ridge"}
    recipe.write_text(json.dumps({"name": "ext", "features": [block], "models": [model]}))
    out = subprocess.run([sys.executable, "-c", "from popfusion.cli import cli; cli()", "run", str(recipe),
                          "--out", str(tmp_path / "run")], capture_output=True, text=True,
                         env=os.environ | {"POPFUSION_HOME": str(tmp_path / "home")})
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert f"{path}: no row for" in out.stderr.replace("\n", "") and "missing: fill" in out.stderr


def test_describe_names_the_leak_risk_of_a_recipes_external_file(synth_small: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from popfusion import load
    from popfusion.cli import app

    ids = load(synth_small, vectors=False)["post_id"]
    path = tmp_path / "theirs.csv"
    pd.DataFrame({"post_id": ids, "score": np.arange(len(ids), dtype=float)}).to_csv(path, index=False)
    recipe = tmp_path / "r.yaml"
    blocks = [{"block": "meta"}, {"block": "external", "params": {"path": str(path)}}]
    models = [{"name": "ridge", "model": "ridge"}]
    recipe.write_text(json.dumps({"name": "ext", "features": blocks, "models": models}))
    args = ["data", "describe", str(synth_small), "--adversarial", str(recipe), "--cache", str(tmp_path / "c")]
    said = CliRunner().invoke(app, [*args, "--json"])
    assert said.exit_code == 0, said.output
    warnings = json.loads(said.stdout)["warnings"]
    assert any(str(path) in w and "computed with labels" in w for w in warnings)
