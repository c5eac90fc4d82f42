"""Clusters of image or text embeddings at several granularities, with time-respecting
label means per cluster.

The finest level is mini-batch k-means; the coarser levels merge its centroids with
agglomerative (Ward) clustering, so the levels nest: every fine cluster lies in exactly one
coarse cluster.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from popfusion.features.base import FeatureBlock, has_images, labelled_mask, utc_seconds
from popfusion.features.sources import block_embeddings
from popfusion.features.target_stats import LabelHistory
from popfusion.linalg import row_products


class Clusters(FeatureBlock):
    """Cluster ids (``__cat``), distance to the centroid, and per level the mean, count and
    shrunk mean of earlier training labels in the same cluster."""

    name = "cluster"
    uses_labels = True

    version = 5  # similarities in float64 rounded to float32, alike alone or in a batch (3: centroids sampled)

    def __init__(self, source: str = "text", levels: tuple[int, ...] = (16, 64, 256), seed: int = 0,
                 image_size: int = 224, fit_sample: int = 50_000) -> None:
        super().__init__(source=source, levels=sorted(levels), seed=seed, image_size=image_size,
                         fit_sample=fit_sample)

    def applies(self, posts: pd.DataFrame) -> bool:
        return self.params["source"] != "image" or has_images(posts)

    def fit(self, posts: pd.DataFrame) -> Clusters:
        from sklearn.cluster import AgglomerativeClustering, MiniBatchKMeans

        emb = block_embeddings(self, posts)
        ok = np.isfinite(emb).all(axis=1)
        finest = min(self.params["levels"][-1], max(2, int(ok.sum()) // 2))
        km = MiniBatchKMeans(finest, random_state=self.params["seed"], batch_size=4096, n_init=1)
        rows, cap = np.flatnonzero(ok), self.params["fit_sample"]
        if len(rows) > cap:  # the centroids settle long before the cost stops growing
            rows = np.random.default_rng(self.params["seed"]).choice(rows, cap, replace=False)
        km.fit(emb[np.sort(rows)])
        self.centroids_ = km.cluster_centers_.astype(np.float32)
        self.maps_ = {}
        for level in self.params["levels"][:-1]:
            merged = AgglomerativeClustering(min(level, finest), linkage="ward").fit(self.centroids_)
            self.maps_[level] = merged.labels_
        self.maps_[self.params["levels"][-1]] = np.arange(finest)
        fine, _ = self._assign(emb)
        train = labelled_mask(posts) & (fine >= 0)
        self.history_ = {level: LabelHistory(pd.DataFrame({
            "post_id": posts["post_id"].to_numpy()[train], "key": mapping[fine[train]],
            "t": utc_seconds(posts["posted_at"])[train], "label": posts["label"].to_numpy("float64")[train],
        })) for level, mapping in self.maps_.items()}
        return self

    def _assign(self, emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ok = np.isfinite(emb).all(axis=1)
        sims = row_products(np.nan_to_num(emb), self.centroids_)
        fine = np.where(ok, sims.argmax(axis=1), -1)
        dist = np.where(ok, 1 - sims.max(axis=1), np.nan)
        return fine, dist

    def transform(self, posts: pd.DataFrame) -> pd.DataFrame:
        emb = block_embeddings(self, posts)
        fine, dist = self._assign(emb)
        f = {"distance": dist}
        t = utc_seconds(posts["posted_at"])
        for level, mapping in self.maps_.items():
            ids = np.where(fine >= 0, mapping[np.maximum(fine, 0)], -1)
            f[f"k{level}__cat"] = ids
            stats = self.history_[level].stats(posts["post_id"], ids, t)
            for col in ("mean", "count", "mean_shrunk"):
                f[f"k{level}_label_{col}"] = np.where(ids >= 0, stats[col], np.nan)
        source = self.params["source"]
        return pd.DataFrame(f, index=posts.index).astype("float32").add_prefix(f"{self.name}_{source}_")
