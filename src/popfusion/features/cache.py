"""A disk cache for feature blocks: one Parquet file per (block, parameters, data).

Files are written to a temporary name and renamed when complete, so a run killed in the
middle leaves either a finished file or none, and a rerun recomputes only what is missing.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from popfusion.atomic import atomic_parquet
from popfusion.features.base import FeatureBlock

log = logging.getLogger(__name__)

# The columns whose values decide every block's output (labels only for label blocks).
_DATA_COLUMNS = ("post_id", "user_id", "posted_at", "split", "title", "tags", "category",
                 "subcategory", "concept", "latitude", "longitude", "image_path")


def data_fingerprint(posts: pd.DataFrame, with_labels: bool) -> str:
    """A hash of the posts' identity and content (and labels when a block reads them)."""
    cols = [c for c in _DATA_COLUMNS if c in posts] + (["label"] if with_labels and "label" in posts else [])
    digest = hashlib.sha256()
    digest.update(",".join(cols).encode())
    digest.update(pd.util.hash_pandas_object(posts[cols], index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


@dataclass
class BlockResult:
    name: str
    columns: int
    seconds: float
    cached: bool


class FeatureCache:
    """Feature frames on disk under ``root``, keyed by block and data fingerprints."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, block: FeatureBlock, posts: pd.DataFrame) -> Path:
        key = f"{block.fingerprint()}-{data_fingerprint(posts, block.uses_labels)}"
        return self.root / f"{block.name}-{key}.parquet"

    def build(self, block: FeatureBlock, posts: pd.DataFrame,
              fitted: bool = False) -> tuple[pd.DataFrame, BlockResult]:
        """The block's features for ``posts``, from the cache when there, else computed.
        ``fitted``: leave the block fitted even on a cache hit (to transform new posts later)."""
        path = self.path(block, posts)
        start = time.perf_counter()
        block.cache_dir = self.root / "embeddings"
        if path.exists():
            frame = pd.read_parquet(path).set_axis(posts.index)
            cached = True
            if fitted:
                block.fit(posts)
        else:
            frame = block.fit_transform(posts)
            atomic_parquet(frame.reset_index(drop=True), path)
            cached = False
        result = BlockResult(block.name, frame.shape[1], time.perf_counter() - start, cached)
        log.info("%s: %d columns in %.1f s%s", block.name, frame.shape[1], result.seconds,
                 " (cached)" if cached else "")
        return frame, result
