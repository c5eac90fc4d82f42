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

def data_fingerprint(posts: pd.DataFrame, with_labels: bool) -> str:
    """A hash of every column of the posts a block could read: any change to any of
    those values makes a new entry. Label and split only when the block reads labels: a
    block that does not is the same for the validation stage, which hides the hold-out's
    labels and calls it test, and the final stage, so it is built once for both."""
    cols = [c for c in posts.columns if with_labels or c not in ("label", "split")]
    digest = hashlib.sha256()
    digest.update(",".join(map(str, cols)).encode())
    for col in cols:  # column by column: a wide table is not copied whole
        values = posts[col]
        if values.dtype == object:  # lists or mixed values from JSON: hashed by their text
            values = values.astype(str)
        digest.update(pd.util.hash_pandas_object(values, index=False).to_numpy().tobytes())
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
        self._data: dict[tuple[int, bool], str] = {}  # data fingerprints of the posts in hand

    def path(self, block: FeatureBlock, posts: pd.DataFrame) -> Path:
        memo = (id(posts), block.uses_labels)
        if memo not in self._data:
            self._data[memo] = data_fingerprint(posts, block.uses_labels)
        key = f"{block.fingerprint()}-{self._data[memo]}"
        return self.root / f"{block.name}-{key}.parquet"

    def build(self, block: FeatureBlock, posts: pd.DataFrame,
              fitted: bool = False) -> tuple[pd.DataFrame, BlockResult]:
        """The block's features for ``posts``, from the cache when there, else computed.
        ``fitted``: leave the block fitted even on a cache hit (to transform new posts later)."""
        path = self.path(block, posts)
        start = time.perf_counter()
        block.use_cache(self.root / "embeddings")
        if path.exists():
            frame = pd.read_parquet(path)
            frame = frame.set_axis(posts.index) if frame.shape[1] else pd.DataFrame(index=posts.index)
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
