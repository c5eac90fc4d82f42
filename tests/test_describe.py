"""Dataset summaries, on synthetic data and on the real SMPD labels when they are here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_DATA

from popfusion import load
from popfusion.data import calibration
from popfusion.data.describe import describe, plot


def test_summary_of_a_synthetic_folder(synth_small: Path, tmp_path: Path) -> None:
    table = load(synth_small)
    summary = describe(table)
    assert summary["rows"] == 1500 and summary["rows_by_split"] == {"train": 1000, "test": 500}
    assert summary["label"]["count"] == 1000
    assert summary["missing"]["label"] == pytest.approx(1 / 3, abs=1e-3)
    assert 0 < summary["missing"]["user_desc_* (empty vector)"] < 1
    assert summary["posts_per_user"]["users"] == table["user_id"].nunique()
    assert set(summary["time_span"]) == {"train", "test"}
    assert len(summary["label_by_time_decile"]) == 10
    assert len(summary["label_by_month"]) >= 11
    png = plot(table, tmp_path / "plot.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_real_smpd_labels_are_read_and_summarised() -> None:
    path = SHARED_DATA / "smpd_train_labels.csv"
    if not path.is_file():
        pytest.skip("../shared/data/smpd_train_labels.csv is not here")
    raw = pd.read_csv(path)
    table = pd.DataFrame({  # chron_rank gives the order in time; one second a rank keeps it
        "post_id": raw["pid"].astype(str),
        "posted_at": pd.to_datetime(raw["chron_rank"], unit="s", utc=True),
        "label": raw["label"],
    })
    summary = describe(table)
    assert summary["rows"] == 305_613
    assert summary["label"]["mean"] == pytest.approx(calibration.LABEL_MEAN, abs=0.005)
    assert summary["label"]["sd"] == pytest.approx(calibration.LABEL_SD, abs=0.005)
    assert (summary["label"]["min"], summary["label"]["max"]) == (1.0, 16.56)
    assert summary["label"]["median"] == calibration.LABEL_PERCENTILES[50]
    assert summary["label_by_time_decile"] == pytest.approx(calibration.DRIFT_DECILE_MEANS, abs=0.011)


def test_real_uid_sample_user_structure() -> None:
    path = SHARED_DATA / "smpd_train_uid_sample.csv"
    if not path.is_file():
        pytest.skip("../shared/data/smpd_train_uid_sample.csv is not here")
    users = describe(pd.read_csv(path).rename(columns={"uid": "user_id"}))["posts_per_user"]
    assert users["users"] == 9303 and users["max"] == 838 and users["median"] == 1
    assert users["single_post_user_share"] == pytest.approx(calibration.SINGLE_POST_USER_SHARE, abs=0.005)
    assert users["p99"] == pytest.approx(calibration.POSTS_PER_USER_P99, abs=1)


def test_adversarial_validation_finds_a_planted_difference_only(synth_small: Path, tmp_path: Path) -> None:
    from popfusion.adversarial import adversarial
    from popfusion.recipe import Recipe

    posts = load(synth_small, vectors=False)
    recipe = Recipe(name="adv", features=[{"block": "meta"}], models=[{"name": "r", "model": "ridge"}])
    rng = np.random.default_rng(0)
    shuffled = posts.assign(split=rng.permutation(posts["split"].to_numpy()))  # train and test alike
    alike = adversarial(shuffled, recipe, tmp_path / "cache")
    assert 0.4 < alike.auc < 0.6 and alike.summary()["verdict"].startswith("alike")
    test = shuffled["split"] == "test"
    planted = shuffled.assign(tags=shuffled["tags"].where(~test, shuffled["tags"] + " x1 x2 x3 x4 x5 x6 x7 x8"))
    found = adversarial(planted, recipe, tmp_path / "cache")
    assert found.auc > 0.95 and "tags" in found.importance.index[0]
    summary = found.summary()
    assert summary["verdict"].startswith("clearly different") and summary["top_features"][0]["family"] == "text"
    assert set(found.test_likeness.index) == set(planted.loc[~test, "post_id"])
    assert all(not c.startswith("meta_epoch") for c in found.importance.index)  # posting time left out


def test_describe_adversarial_on_the_command_line(synth_small: Path, tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from popfusion.cli import app

    recipe = tmp_path / "meta.yaml"
    recipe.write_text(json.dumps({"name": "meta", "features": [{"block": "meta"}],
                                  "models": [{"name": "r", "model": "ridge"}]}))
    args = ["data", "describe", str(synth_small), "--adversarial", str(recipe), "--cache", str(tmp_path / "c")]
    said = CliRunner().invoke(app, [*args, "--json"])
    assert said.exit_code == 0, said.output
    found = json.loads(said.stdout)["adversarial"]
    assert 0.5 <= found["auc"] <= 1 and len(found["top_features"]) == 10 and found["most_test_like"]
    text = CliRunner().invoke(app, [*args, "--plot", str(tmp_path / "describe.png")])
    assert "test vs training posts: AUC" in text.stdout and "what tells them apart" in text.stdout
    from PIL import Image

    with Image.open(tmp_path / "describe.png") as png:  # a second row of panels: the adversarial ones
        assert png.height > 1.8 * 4 * 110 * 0.9
    wrong = CliRunner().invoke(app, [*args[:-4], "--adversarial", "fastt"])
    assert wrong.exit_code == 1 and "fast" in wrong.output


def test_adversarial_weights_reach_every_fit_and_read_no_label(synth_small: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """``validation: {weight: adversarial}``: training posts that look like the posts to
    predict weigh more in every fit of both stages; the weights come from label-free
    features only (the same whatever the labels), and a fit without them is unchanged."""
    from popfusion.adversarial import likeness_weights
    from popfusion.api import PopFusion
    from popfusion.models.linear import Ridge
    from popfusion.recipe import Recipe

    posts = load(synth_small, vectors=False)
    test = (posts["split"] == "test").to_numpy()
    posts["tags"] = posts["tags"].where(~test, posts["tags"] + " x1 x2 x3")  # test posts stand out
    posts.loc[~test & (np.arange(len(posts)) % 3 == 0), "tags"] += " x1 x2 x3"  # and a third of the rest
    seen: list[np.ndarray | None] = []
    fit = Ridge.fit
    monkeypatch.setattr(Ridge, "fit", lambda self, X, y, *a, weight=None, **k: seen.append(weight) or
                        fit(self, X, y, *a, weight=weight, **k))
    spec = {"name": "w", "features": [{"block": "meta"}], "models": [{"name": "r", "model": "ridge"}],
            "validation": {"holdout": 0.2, "folds": 3, "weight": "adversarial"}, "bootstrap": 0}
    model = PopFusion(Recipe(**spec), cache_dir=tmp_path / "cache").fit(posts)
    assert len(seen) == 3 + 1 and all(w is not None for w in seen)  # folds, final fit
    final = seen[-1]
    marked = posts.loc[~test, "tags"].str.contains("x1 x2 x3", na=False).to_numpy(bool)
    order = np.argsort(posts.loc[~test, "posted_at"].to_numpy(), kind="stable")
    assert final[marked[order]].mean() > 2 * final[~marked[order]].mean()
    assert final.mean() == pytest.approx(1.0)
    shuffled = posts.assign(label=np.random.default_rng(0).permutation(posts["label"].to_numpy()))
    again = PopFusion(Recipe(**spec), cache_dir=tmp_path / "cache")._adversarial_weights(shuffled)
    pd.testing.assert_series_equal(again, model._adversarial_weights(posts))
    assert likeness_weights(pd.Series([0.5, 0.5])).tolist() == [1.0, 1.0]
    seen.clear()
    unweighted = {**spec, "validation": {"holdout": 0.2, "folds": 3}}
    PopFusion(Recipe(**unweighted), cache_dir=tmp_path / "cache").fit(posts)
    assert seen and all(w is None for w in seen)
