"""Clusters, neighbour labels and cross-modal similarity on a small synthetic SMPD, with
the leakage checks every block that reads labels must pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from popfusion import load
from popfusion.features.base import lookup, positions
from popfusion.features.clusters import Clusters
from popfusion.features.knn import NeighbourLabels


@pytest.fixture(scope="module")
def posts(synth_small: Path) -> pd.DataFrame:
    return load(synth_small, vectors=False)


def _future_labels_changed(posts: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    train = posts["split"] == "train"
    cut = posts.loc[train, "posted_at"].quantile(0.6)
    changed = posts.copy()
    changed.loc[train & (posts["posted_at"] >= cut), "label"] += 4.0
    return changed, (train & (posts["posted_at"] < cut)).to_numpy()


def test_cluster_label_means_never_see_later_labels(posts: pd.DataFrame, tmp_path: Path) -> None:
    block = Clusters(source="text", levels=(4, 16))
    block.cache_dir = tmp_path
    base = block.fit_transform(posts)
    changed, early = _future_labels_changed(posts)
    again = Clusters(source="text", levels=(4, 16))
    again.cache_dir = tmp_path
    after = again.fit_transform(changed)
    pd.testing.assert_frame_equal(base[early], after[early])
    assert base["cluster_text_k4__cat"].nunique() == 4
    # levels nest: every fine cluster lies in one coarse cluster
    assert base.groupby("cluster_text_k16__cat")["cluster_text_k4__cat"].nunique().max() == 1


def test_neighbour_labels_are_out_of_fold(posts: pd.DataFrame, tmp_path: Path) -> None:
    block = NeighbourLabels(source="text", k=5, folds=4)
    block.cache_dir = tmp_path
    base = block.fit_transform(posts)
    assert base.notna().all().all()
    # changing the labels of one fold leaves that fold's own features untouched
    train = (posts["split"] == "train").to_numpy()
    fold = np.full(len(posts), -1)
    fold[train] = pd.Series(block.train_fold_, index=block.train_ids_).loc[posts["post_id"][train]].to_numpy()
    changed = posts.copy()
    changed.loc[fold == 2, "label"] += 4.0
    again = NeighbourLabels(source="text", k=5, folds=4)
    again.cache_dir = tmp_path
    after = again.fit_transform(changed)
    pd.testing.assert_frame_equal(base[fold == 2], after[fold == 2])
    assert not base[fold != 2].equals(after[fold != 2])


def test_neighbour_labels_carry_signal(posts: pd.DataFrame, tmp_path: Path) -> None:
    block = NeighbourLabels(source="text", k=20)
    block.cache_dir = tmp_path
    f = block.fit_transform(posts)
    train = (posts["split"] == "train").to_numpy()
    corr = np.corrcoef(f["knn_text_label_mean"][train], posts["label"][train])[0, 1]
    assert corr > 0.05


def test_cross_modal_learned_projection(posts: pd.DataFrame, tmp_path: Path) -> None:
    from popfusion.features.crossmodal import CrossModal

    block = CrossModal(image_size=64)
    block.cache_dir = tmp_path
    f = block.fit_transform(posts)
    assert list(f.columns) == ["xmodal_image_title", "xmodal_image_tags", "xmodal_title_tags"]
    assert f.notna().all().all() and (f.abs() <= 1.0001).all().all()
    # an image agrees more with its own post's text than with a random other post's
    shuffled = posts.assign(title=posts["title"].sample(frac=1, random_state=0).to_numpy())
    other = block.transform(shuffled)
    assert f["xmodal_image_title"].mean() > other["xmodal_image_title"].mean()


def test_runs_saved_by_the_last_release_still_load() -> None:
    """A block pickled before a parameter existed gets it at its default, and a label
    history pickled before its binary-search positions existed (it kept a merge frame)
    gets them, with the same statistics."""
    import pickle

    from popfusion.features.target_stats import LabelHistory
    from popfusion.features.text import TextEmbedding

    block = TextEmbedding(fields=("title",))
    state = block.__dict__ | {"params": {k: v for k, v in block.params.items() if k != "prefix"}}
    old = TextEmbedding.__new__(TextEmbedding)
    old.__setstate__(state)
    assert old.params == block.params
    rng = np.random.default_rng(0)
    history = pd.DataFrame({"post_id": [f"p{i}" for i in range(300)], "key": rng.integers(0, 20, 300),
                            "t": rng.integers(0, 100, 300).astype(float), "label": rng.normal(size=300)})
    today = LabelHistory(history)
    saved = {k: v for k, v in today.__dict__.items() if k not in ("times", "span", "row_key", "position")}
    saved["right"] = pd.DataFrame({"key": today.row_key, "cutoff": today.t, "row": np.arange(len(today.t))}
                                  ).sort_values("cutoff", kind="stable")
    before = LabelHistory.__new__(LabelHistory)
    before.__setstate__(saved)
    ids, keys, t = pd.Series(["p3", "new", "p7"]), np.array([today.keys[0], 5, 99]), np.array([50.0, 50.0, 1e9])
    reloaded = pickle.loads(pickle.dumps(before))
    pd.testing.assert_frame_equal(reloaded.stats(ids, keys, t), today.stats(ids, keys, t))


@pytest.mark.parametrize("index_dtype", ["str", "string", object])
@pytest.mark.parametrize("key_dtype", ["str", "string", object])
def test_lookups_find_what_pandas_finds(index_dtype, key_dtype) -> None:
    """``positions`` and ``lookup`` hand pandas plain object arrays to skip its slow path
    for mixed string dtypes; what they find must not change."""
    table = pd.Series([1.0, 2.0, 3.0], index=pd.Index(["a", "b", "c"], dtype=index_dtype))
    keys = pd.Series(["c", "x", "a", "c"], dtype=key_dtype)
    np.testing.assert_array_equal(positions(table.index, keys), [2, -1, 0, 2])
    np.testing.assert_array_equal(lookup(table, keys), keys.map(table).to_numpy(float))
    np.testing.assert_array_equal(lookup(table.iloc[:0], keys), np.full(4, np.nan))
    codes = pd.Index([7, 3, 5])
    np.testing.assert_array_equal(positions(codes, np.array([5, 4, 7])), [2, -1, 0])
