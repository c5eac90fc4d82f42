"""Nearest-neighbour label features: the labels of the most similar training posts.

Out of fold: training posts are cut into chronological folds, and a training post's
neighbours come only from the other folds (never itself, never its own time block);
other posts search all training posts. Search is exact, by cosine similarity on a PCA
reduction of the embeddings, among at most ``reference`` training posts drawn at random
(the cost grows linearly with the posts, not with their square).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from popfusion.features.base import FeatureBlock, has_images, labelled_mask, positions, utc_seconds
from popfusion.features.reduce import fit_pca
from popfusion.features.sources import block_embeddings, normalise
from popfusion.linalg import row_products


class NeighbourLabels(FeatureBlock):
    """Mean and similarity-weighted mean label of the ``k`` nearest training posts, and
    the mean and highest similarity."""

    name = "knn"
    version = 3  # projections in float64 rounded to float32: a post gets the same values alone or in a batch
    uses_labels = True

    def __init__(self, source: str = "text", k: int = 10, folds: int = 5, dims: int = 32,
                 reference: int = 20_000, chunk: int = 1024, image_size: int = 224) -> None:
        super().__init__(source=source, k=k, folds=folds, dims=dims, reference=reference, chunk=chunk,
                         image_size=image_size)

    def applies(self, posts: pd.DataFrame) -> bool:
        return self.params["source"] != "image" or has_images(posts)

    def fit(self, posts: pd.DataFrame) -> NeighbourLabels:
        emb = block_embeddings(self, posts)
        train = labelled_mask(posts) & np.isfinite(emb).all(axis=1)
        x = emb[train]
        self.mean_, self.axes_ = fit_pca(x, self.params["dims"])
        # an index (its hash table built once), so that scoring one post looks its fold up
        # without hashing every training id
        self.train_ids_ = pd.Index(posts["post_id"].to_numpy()[train])
        self.train_x_ = self._project(x)
        self.train_y_ = posts["label"].to_numpy("float32")[train]
        order = np.argsort(utc_seconds(posts["posted_at"])[train], kind="stable")
        self.train_fold_ = np.empty(len(order), np.int64)
        self.train_fold_[order] = np.arange(len(order)) * self.params["folds"] // max(len(order), 1)
        return self

    def _project(self, x: np.ndarray) -> np.ndarray:
        return normalise(row_products(x - self.mean_, self.axes_)).astype(np.float32)

    def transform(self, posts: pd.DataFrame) -> pd.DataFrame:
        emb = block_embeddings(self, posts)
        ok = np.isfinite(emb).all(axis=1)
        found = positions(self.train_ids_, posts["post_id"])
        fold = np.where(found >= 0, self.train_fold_[found], -1)
        out = np.full((len(posts), 4), np.nan, np.float32)
        q = self._project(np.nan_to_num(emb))
        for f in np.unique(fold[ok]):
            rows = np.flatnonzero(ok & (fold == f))
            candidates = np.flatnonzero(self.train_fold_ != f)
            if len(candidates) > self.params["reference"]:
                rng = np.random.default_rng(int(f) + 1)
                candidates = np.sort(rng.choice(candidates, self.params["reference"], replace=False))
            out[rows] = self._search(q[rows], self.train_x_[candidates], self.train_y_[candidates])
        cols = ["label_mean", "label_weighted", "sim_mean", "sim_max"]
        return pd.DataFrame(out, index=posts.index, columns=cols).add_prefix(
            f"{self.name}_{self.params['source']}_")

    def _search(self, q: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Top-k search in chunks of queries, the chunks spread over threads with one BLAS
        thread each: numpy's argpartition is single-threaded and dominates the cost."""
        k = min(self.params["k"], len(y))
        out = np.full((len(q), 4), np.nan, np.float32)
        if k == 0:
            return out

        def chunk(start: int) -> None:
            sims = row_products(q[start : start + self.params["chunk"]], x)
            top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            s = np.take_along_axis(sims, top, axis=1)
            labels = y[top]
            w = np.maximum(s, 0) + 1e-6
            out[start : start + len(s)] = np.column_stack([
                labels.mean(axis=1), (labels * w).sum(axis=1) / w.sum(axis=1), s.mean(axis=1), s.max(axis=1)])

        starts = range(0, len(q), self.params["chunk"])
        if len(starts) == 1:  # one chunk (a few posts): threads would cost more than they save
            chunk(0)
            return out
        with threadpool_limits(1), ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            list(pool.map(chunk, starts))
        return out
