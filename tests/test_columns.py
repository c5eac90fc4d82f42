"""The platform's own columns: type inference, the `columns` block, the lexical model and
the audience trend, and runs on files whose only signal is a column no map names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from popfusion import load
from popfusion.api import PopFusion
from popfusion.cli import app
from popfusion.data.columns import infer_types
from popfusion.data.describe import describe
from popfusion.features.columns import PlatformColumns
from popfusion.features.lexical import LexicalModel
from popfusion.features.trend import AudienceTrend
from popfusion.recipe import Recipe


def _kinds_table(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    words = np.array(["cat", "dog", "news", "vaccine", "launch", "rust", "python", "show", "ask", "why"])
    return pd.DataFrame({
        "post_id": [f"p{i}" for i in range(n)],
        "count": rng.integers(0, 5000, n).astype(str),
        "flag": rng.choice(["True", "False"], n),
        "joined": pd.date_range("2010-01-01", periods=n, freq="37h").strftime("%Y-%m-%d %H:%M:%S"),
        "app": rng.choice(["web", "iphone", "android"], n),
        "domain": [f"site{i % 150}.com" for i in range(n)],
        "tags_list": [str(list(rng.choice(words, 2))) for _ in range(n)],
        "body": [" ".join(rng.choice(words, 8)) for _ in range(n)],
        "url": [f"https://x.com/{i}" for i in range(n)],
        "mixed": [str(i) if i % 3 else f"v{i % 7}" for i in range(n)],
        "nothing": [""] * n,
    })


def test_every_kind_is_inferred_from_content() -> None:
    kinds = infer_types(_kinds_table())
    assert kinds == {"count": "numeric", "flag": "boolean", "joined": "datetime", "app": "category",
                     "domain": "high_category", "tags_list": "list", "body": "text", "url": "id",
                     "mixed": "high_category", "nothing": "empty"}
    assert infer_types(_kinds_table(), {"count": "category"})["count"] == "category"
    with pytest.raises(ValueError, match="unknown column kind"):
        infer_types(_kinds_table(), {"count": "fancy"})


def _posts(n: int = 1200, seed: int = 0, signal: str = "numeric") -> pd.DataFrame:
    """Posts whose label depends only on an unmapped column (a number, or a category)."""
    rng = np.random.default_rng(seed)
    times = pd.Timestamp("2021-01-01", tz="UTC") + pd.to_timedelta(np.sort(rng.uniform(0, 300, n)), unit="D")
    score = rng.normal(size=n)
    table = pd.DataFrame({"post_id": [f"p{i}" for i in range(n)],
                          "user_id": [f"u{i}" for i in rng.integers(0, n // 2, n)], "posted_at": times})
    if signal == "numeric":
        table["reach"] = (np.exp(score + 5)).round(3).astype(str)
    else:
        levels = np.array([f"flair{i}" for i in range(12)])
        code = rng.integers(0, 12, n)
        table["flair"] = levels[code]
        score = code / 3.0 + rng.normal(0, 0.3, n)
    table["noise"] = rng.choice(["a", "b", "c"], n)
    table["label"] = 3 + score + rng.normal(0, 0.1 if signal == "numeric" else 0.0, n)
    table["split"] = np.where(np.arange(n) < int(n * 0.8), "train", "test")
    return table


def _columns_frame(posts: pd.DataFrame) -> pd.DataFrame:
    return PlatformColumns().fit_transform(posts)


def test_high_cardinality_and_item_label_stats_never_see_a_later_or_own_label() -> None:
    posts = _posts()
    posts["site"] = [f"s{i % 200}" for i in range(len(posts))]
    posts["hashtags"] = [str([f"h{i % 30}", f"h{i % 7}"]) for i in range(len(posts))]
    base = _columns_frame(posts)
    assert {"columns_site_freq", "columns_site_label_mean_shrunk", "columns_hashtags_item_label_mean",
            "columns_hashtags_item_freq"} <= set(base.columns)
    train = (posts["split"] == "train").to_numpy()
    cut = posts.loc[train, "posted_at"].quantile(0.6)
    changed = posts.copy()
    later = train & (posts["posted_at"] >= cut).to_numpy()
    changed.loc[later, "label"] += 5.0
    after = _columns_frame(changed)
    pd.testing.assert_frame_equal(base[train & ~later], after[train & ~later])
    assert not base[later].equals(after[later])


def _run(posts: pd.DataFrame, tmp: Path, models: list[dict]) -> PopFusion:
    recipe = Recipe.model_validate({
        "name": "columns-only", "features": [{"block": "meta", "params": {"language": False}},
                                             {"block": "columns"}],
        "models": models, "validation": {"holdout": 0.25, "folds": 3}, "bootstrap": 0})
    return PopFusion(recipe, cache_dir=tmp / "cache").fit(posts)


@pytest.mark.parametrize("signal", ["numeric", "category"])
def test_a_run_finds_the_signal_in_an_unmapped_column(signal: str, tmp_path: Path) -> None:
    posts = _posts(signal=signal)
    model = _run(posts, tmp_path, [{"name": "lgb", "model": "lightgbm",
                                    "params": {"n_estimators": 300, "learning_rate": 0.1, "num_leaves": 15,
                                               "min_child_samples": 10}}])
    assert model.validation_.scores["final"]["src"]["value"] > 0.8


def test_leak_warning_fires_on_a_column_that_is_the_label_plus_noise() -> None:
    posts = _posts()
    rng = np.random.default_rng(1)
    posts["likes"] = (np.expm1(posts["label"] + rng.normal(0, 0.05, len(posts)))).round().astype(str)
    summary = describe(posts.assign(label=posts["label"].where(posts["split"] == "train")))
    kinds = {c["column"]: c for c in summary["columns"]}
    assert kinds["likes"]["kind"] == "numeric" and kinds["likes"]["leak"]
    assert not kinds["noise"]["leak"]
    assert any("likes" in w for w in summary["warnings"])


def _titled(n: int = 600) -> pd.DataFrame:
    """Posts whose label is carried by one word of the title; the last sixth to predict."""
    rng = np.random.default_rng(0)
    words = np.array(["launch", "rust", "python", "apple", "cats", "vaccine", "election", "music"])
    word = rng.integers(0, len(words), n)
    posts = pd.DataFrame({
        "post_id": [f"p{i}" for i in range(n)], "user_id": "u",
        "posted_at": pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(np.arange(n), unit="h"),
        "title": [f"{words[w]} news today {i % 13}" for i, w in enumerate(word)],
        "label": word.astype(float) + rng.normal(0, 0.2, n), "split": "train"})
    posts.loc[n * 5 // 6:, "split"] = "test"
    return posts


def test_lexical_out_of_fold_prediction_ignores_its_own_label() -> None:
    posts = _titled()
    base = LexicalModel(folds=4).fit_transform(posts)["lexical_pred"]
    train = (posts["split"] == "train").to_numpy()
    assert np.corrcoef(base[train], posts["label"][train])[0, 1] > 0.8
    changed = posts.copy()
    changed.loc[123, "label"] += 50.0
    after = LexicalModel(folds=4).fit_transform(changed)["lexical_pred"]
    assert after[123] == pytest.approx(base[123], abs=1e-6)
    assert not np.allclose(after[train], base[train])  # other folds' rows did learn from it


def test_lexical_vocabularies_are_built_once_for_both_stages(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The n-gram vocabularies read no label: the final stage (same posts, more labels)
    reads them from the cache folder instead of tokenizing again, with the same result
    as building them; an edited text builds them anew."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    posts = _titled()
    validation = posts.assign(label=posts["label"].where(posts.index < 400))
    built = []
    real = TfidfVectorizer.fit_transform
    monkeypatch.setattr(TfidfVectorizer, "fit_transform",
                        lambda self, *a, **k: built.append(1) or real(self, *a, **k))
    LexicalModel(folds=4).use_cache(tmp_path).fit_transform(validation)
    first = len(built)
    assert first > 0
    final = LexicalModel(folds=4).use_cache(tmp_path).fit_transform(posts)
    assert len(built) == first  # read back, not built
    pd.testing.assert_frame_equal(final, LexicalModel(folds=4).fit_transform(posts))  # built without a cache
    edited = posts.assign(title=posts["title"].where(posts.index != 5, "an edited title"))
    LexicalModel(folds=4).use_cache(tmp_path).fit_transform(edited)
    assert len(built) == 3 * first


def test_audience_trend_reads_only_earlier_labels() -> None:
    posts = _posts()
    base = AudienceTrend(windows=(10, 50)).fit_transform(posts)
    train = (posts["split"] == "train").to_numpy()
    assert np.isnan(base.iloc[0]["trend_recent_mean_10"])  # the first post has no earlier label
    expected = posts["label"][train].iloc[:10].mean()
    assert base.iloc[10]["trend_recent_mean_10"] == pytest.approx(expected, rel=1e-5)
    test_rows = base[~train]
    assert test_rows["trend_recent_mean_10"].nunique() == 1  # every test post sees the latest 10
    assert test_rows["trend_recent_mean_10"].iloc[0] == pytest.approx(posts["label"][train].iloc[-10:].mean(),
                                                                     rel=1e-5)


def test_fast_runs_on_a_file_without_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POPFUSION_HOME", str(tmp_path / "home"))
    posts = _posts(n=500).rename(columns={"post_id": "id", "user_id": "author", "posted_at": "created"})
    posts["label"] = posts["label"].where(posts["split"] == "train")
    file = tmp_path / "posts.csv"
    posts.drop(columns="split").to_csv(file, index=False)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", "fast", "--data", str(file), "--map",
                                      "id=id,user=author,time=created", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = load(file, "id=id,user=author,time=created")
    scored = pd.read_parquet(out / "test_predictions.parquet")
    assert len(scored) == (table["split"] == "test").sum()


def test_image_blocks_and_models_are_left_out_on_posts_without_images(tmp_path: Path) -> None:
    recipe = Recipe.model_validate({
        "name": "no-images",
        "features": [{"block": "meta", "params": {"language": False}}, {"block": "columns"},
                     {"block": "imgstat"}, {"block": "image"}, {"block": "xmodal"},
                     {"block": "knn", "params": {"source": "image"}}],
        "models": [{"name": "lgb_all", "model": "lightgbm", "params": {"n_estimators": 50}},
                   {"name": "lgb_image", "model": "lightgbm", "features": ["image"]}],
        "validation": {"holdout": 0.25, "folds": 2}, "bootstrap": 0})
    model = PopFusion(recipe, cache_dir=tmp_path / "cache").fit(_posts(n=400))
    assert [b["name"] for b in model.feature_summary_["final"]] == ["meta", "columns"]
    assert model.validation_.models == ["lgb_all"] and "lgb_image" not in model.validation_.scores


def test_awkward_columns_give_distinct_finite_features() -> None:
    """Names that clash once made safe for the GBDTs, infinities, nullable dtypes and
    non-ASCII names: every feature gets its own name and no infinite value."""
    posts = _posts(n=300)
    rng = np.random.default_rng(0)
    posts["a b"] = rng.normal(size=300).astype(str)
    posts["a_b"] = rng.normal(size=300).astype(str)
    posts["spiky"] = np.where(rng.random(300) < 0.1, "inf", rng.normal(size=300).astype(str))
    posts["maybe"] = pd.Series(np.where(rng.random(300) < 0.1, None, rng.random(300) < 0.5), dtype="boolean")
    posts["émoji 🎉"] = rng.choice(["x", "y"], 300)
    frame = PlatformColumns().fit_transform(posts)
    assert not frame.columns.duplicated().any() and all(c.isascii() for c in frame.columns)
    assert {"columns_a_b", "columns_a_b_2", "columns_maybe", "columns_moji__cat"} <= set(frame.columns)
    assert not np.isinf(frame.to_numpy(float)).any()
