"""User history: activity features, and label statistics that never see the future."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from popfusion import load
from popfusion.features.cache import FeatureCache
from popfusion.features.user_history import UserHistory


def _posts() -> pd.DataFrame:
    t = pd.to_datetime([0, 10, 10, 20, 30, 5, 15, 40, 50], unit="D", utc=True)
    return pd.DataFrame({
        "post_id": [f"p{i}" for i in range(9)],
        "user_id": ["a", "a", "a", "a", "a", "b", "b", "a", "c"],
        "posted_at": t,
        "label": [1.0, 2.0, 4.0, 8.0, 16.0, 3.0, 5.0, np.nan, np.nan],
        "split": ["train"] * 7 + ["test"] * 2,
    })


def test_train_rows_see_only_strictly_earlier_labels() -> None:
    feats = UserHistory().fit_transform(_posts())
    assert feats["user_label_count"].tolist() == [0, 1, 1, 3, 4, 0, 1, 5, 0]
    assert feats["user_label_mean"].iloc[1] == 1.0 and feats["user_label_mean"].iloc[2] == 1.0  # same second
    assert feats["user_label_mean"].iloc[3] == pytest.approx(7 / 3)
    assert feats["user_label_median"].iloc[4] == 3.0
    assert feats["user_label_mean"].iloc[7] == pytest.approx(31 / 5)  # test row: all train labels
    assert np.isnan(feats["user_label_mean"].iloc[0]) and np.isnan(feats["user_label_mean"].iloc[8])
    assert feats["user_label_seen"].tolist() == [0, 1, 1, 1, 1, 0, 1, 1, 0]
    # days since the newest label the post may see: for the test row, the last training post
    np.testing.assert_allclose(feats["user_label_age_days"], [np.nan, 10, 10, 10, 10, np.nan, 10, 10, np.nan])


def test_activity_features() -> None:
    feats = UserHistory().fit_transform(_posts())
    assert feats["user_posts"].tolist() == [6, 6, 6, 6, 6, 2, 2, 6, 1]
    assert feats["user_rank"].tolist() == [0, 1, 2, 3, 4, 0, 1, 5, 0]
    assert feats["user_days_since_prev"].iloc[3] == pytest.approx(10)
    assert feats["user_days_to_next"].iloc[4] == pytest.approx(10)
    assert np.isnan(feats["user_days_since_prev"].iloc[0])


def test_user_codes_and_a_block_saved_with_them_as_a_dict() -> None:
    """A user's code is its place among the users fit saw (-1: a new user); a block saved
    when the codes were a dict still loads and encodes the same."""
    posts = _posts()
    block = UserHistory().fit(posts)
    new = posts.iloc[[0, 5, 8]].assign(post_id=["n1", "n2", "n3"], user_id=["b", "zz", "c"])
    assert block.transform(new)["user_id__cat"].tolist() == [1, -1, 2]
    state = {k: v for k, v in block.__dict__.items() if k != "users_"}
    state["user_codes_"] = {"a": 0, "b": 1, "c": 2}
    old = UserHistory.__new__(UserHistory)
    old.__setstate__(state)
    pd.testing.assert_frame_equal(old.transform(new), block.transform(new))


def test_without_lookahead_no_feature_reads_a_later_post() -> None:
    """With ``lookahead=False`` a post's features are the same whether or not its authors'
    later posts exist (as when it is scored before it goes out); with look-ahead they are not."""
    posts = _posts()
    early = posts[posts["posted_at"] <= pd.Timestamp(20, unit="D", tz="UTC")]
    for lookahead, same in ((False, True), (True, False)):
        block = UserHistory(lookahead=lookahead)
        alone = block.fit_transform(early)
        together = block.fit_transform(posts).loc[early.index]
        assert alone.equals(together) is same
    assert not {"user_posts", "user_rank_share", "user_days_to_next"} & set(UserHistory(lookahead=False)
                                                                             .fit_transform(posts))


def test_no_training_row_sees_its_own_or_a_later_label(synth_small: Path) -> None:
    """Change every label at or after a cut-off time: no training row before it moves, and
    changing one post's label changes nothing for posts at or before its time."""
    posts = load(synth_small, vectors=False)
    base = UserHistory().fit_transform(posts)
    train = posts["split"] == "train"
    cut = posts.loc[train, "posted_at"].quantile(0.5)
    changed = posts.copy()
    changed.loc[train & (posts["posted_at"] >= cut), "label"] += 5.0
    after = UserHistory().fit_transform(changed)
    early = (train & (posts["posted_at"] <= cut)).to_numpy()
    label_cols = [c for c in base if "label" in c]
    pd.testing.assert_frame_equal(base.loc[early, label_cols], after.loc[early, label_cols])
    # brute force: each training row's mean equals the mean of strictly earlier labels
    sample = posts[train].sample(200, random_state=0)
    for idx, row in sample.iterrows():
        mine = posts[train & (posts["user_id"] == row["user_id"]) & (posts["posted_at"] < row["posted_at"])]
        expected = mine["label"].mean() if len(mine) else np.nan
        assert base.loc[idx, "user_label_count"] == len(mine)
        assert base.loc[idx, "user_label_mean"] == pytest.approx(expected, nan_ok=True, rel=1e-5)


def test_cache_reuses_finished_blocks(tmp_path: Path) -> None:
    posts = _posts()
    cache = FeatureCache(tmp_path)
    first, r1 = cache.build(UserHistory(), posts)
    second, r2 = cache.build(UserHistory(), posts)
    assert not r1.cached and r2.cached
    pd.testing.assert_frame_equal(first, second)
    assert cache.path(UserHistory(shrink=5), posts) != cache.path(UserHistory(), posts)
    relabelled = posts.assign(label=posts["label"] + 1)
    assert cache.path(UserHistory(), relabelled) != cache.path(UserHistory(), posts)
    assert not list(tmp_path.glob("*.tmp*"))
