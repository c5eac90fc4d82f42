"""The synthetic SMPD: real file format, calibration against SMPD, signal where it matters."""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.stats import spearmanr

from popfusion import load
from popfusion.data import calibration
from popfusion.data.synthetic import SynthSpec, _vocabulary, generate, is_complete, read_truth


@pytest.fixture(scope="module")
def large(synth_large: Path) -> pd.DataFrame:
    table = load(synth_large, vectors=False)
    truth = read_truth(synth_large).set_index("post_id")
    return table.join(truth[["label", "expected_score"]].rename(columns={"label": "true_label"}),
                      on="post_id")


@pytest.fixture(scope="module")
def train(large: pd.DataFrame) -> pd.DataFrame:
    return large[large["split"] == "train"].sort_values("posted_at")


def test_label_distribution_matches_smpd(train: pd.DataFrame) -> None:
    deciles = train["label"].quantile(np.linspace(0.1, 0.9, 9)).to_numpy()
    smpd = calibration.LABEL_PERCENTILES[10:91:10]
    assert np.abs(deciles - smpd).max() < 0.35, (deciles, smpd)
    assert train["label"].mean() == pytest.approx(calibration.LABEL_MEAN, abs=0.25)
    assert train["label"].std() == pytest.approx(calibration.LABEL_SD, abs=0.2)
    assert train["label"].min() == 1.0
    # labels are log2(views + 1) of whole views, as in SMPD: 1.0, 1.58, 2.0, ...
    assert {1.0, 1.58, 2.0} <= set(train["label"].round(2))


def test_user_structure_matches_smpd(large: pd.DataFrame, train: pd.DataFrame) -> None:
    counts = large["user_id"].value_counts()
    assert 4.5 < counts.mean() < 8.5
    assert (counts == 1).mean() == pytest.approx(calibration.SINGLE_POST_USER_SHARE, abs=0.05)
    assert counts.median() == 1
    assert 6 <= counts.quantile(0.9) <= 13
    assert counts.quantile(0.99) > 60
    multi = train[train["user_id"].map(train["user_id"].value_counts()) > 1]
    within = (multi["label"] - multi.groupby("user_id")["label"].transform("mean")).std()
    assert 0.45 < within < 1.0  # SMPD: 0.69 against 2.47 overall


def test_time_span_split_and_downward_drift(large: pd.DataFrame, train: pd.DataFrame) -> None:
    span = large["posted_at"].max() - large["posted_at"].min()
    assert 15 * 30 < span.days < 17 * 31
    test = large[large["split"] == "test"]
    assert len(train) / len(test) == pytest.approx(2.0, rel=0.01)
    assert train["posted_at"].max() <= test["posted_at"].min()
    deciles = [p.mean() for p in np.array_split(train["label"].to_numpy(), 10)]
    assert 0.1 < deciles[0] - deciles[-1] < 1.0  # SMPD: 6.78 -> 6.41
    days = (train["posted_at"] - train["posted_at"].min()).dt.days
    assert np.polyfit(days, train["label"], 1)[0] < 0
    assert test["expected_score"].mean() < train["expected_score"].mean()


def test_category_hierarchy_and_geo(large: pd.DataFrame) -> None:
    voc = _vocabulary(np.random.default_rng(0))
    assert (len(voc.cat_names), len(voc.sub_names), len(voc.concept_names)) == calibration.CATEGORY_LEVELS
    assert len(set(voc.concept_names)) == 668
    assert large["category"].nunique() == 11 and large["subcategory"].nunique() == 77
    assert large["concept"].nunique() > 550
    assert large.groupby("concept")["subcategory"].nunique().max() == 1
    assert 0.05 < large["latitude"].notna().mean() < 0.35


def test_texts_are_multilingual_and_carry_signal(large: pd.DataFrame) -> None:
    titles = large["title"].dropna()
    assert titles.str.contains(r"[\u3040-\u30ff]").any()  # Japanese
    assert titles.str.contains(r"[\u4e00-\u9fff]").any()  # Chinese characters
    assert titles.str.contains(r"\b(?:perro|chien|hund|gatto|famiglia)\b", case=False).any()
    camera_default = large["title"].str.startswith("IMG_").fillna(False)
    score = large["expected_score"]
    gap = score[~camera_default].mean() - score[camera_default].mean()
    assert gap > 0.05


def test_noise_free_scores_bound_what_a_model_can_reach(train: pd.DataFrame) -> None:
    assert (train["label"] == train["true_label"]).all()
    src = spearmanr(train["label"], train["expected_score"]).statistic
    assert 0.9 < src < 1.0


def test_images_decode_and_their_content_carries_signal(synth_small: Path) -> None:
    table = load(synth_small, vectors=False)
    paths = table["image_path"].sample(50, random_state=0)
    for path in paths:
        with Image.open(path) as img:
            assert img.format == "JPEG" and img.size == (64, 64)
    # images of different categories differ: mean brightness per category is not constant
    bright = table.groupby("category").head(5)
    means = bright.groupby("category")["image_path"].apply(
        lambda ps: np.mean([np.asarray(Image.open(p)).mean() for p in ps]))
    assert means.std() > 5


def test_same_seed_same_bytes_and_reuse(tmp_path: Path) -> None:
    spec = SynthSpec(posts=300, seed=11, images=False)
    a, b = generate(tmp_path / "a", spec, progress=False), generate(tmp_path / "b", spec, progress=False)
    for name in ("train_allmetadata_json/train_user_data.json", "test_allmetadata_json/test_text.json",
                 "train_label.txt"):
        assert filecmp.cmp(a / name, b / name, shallow=False)
    assert is_complete(a, spec) and not is_complete(a, SynthSpec(posts=301, seed=11, images=False))
    mtime = (a / "train_label.txt").stat().st_mtime_ns
    generate(a, spec, progress=False)  # reused, not rewritten
    assert (a / "train_label.txt").stat().st_mtime_ns == mtime
    with pytest.raises(FileExistsError):
        generate(a, SynthSpec(posts=301, seed=11, images=False), progress=False)
