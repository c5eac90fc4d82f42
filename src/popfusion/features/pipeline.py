"""Build the feature frame a recipe asks for: each block from the cache or computed,
with a summary of columns, time and cache hits."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from popfusion.features.base import FeatureBlock
from popfusion.features.cache import BlockResult, FeatureCache
from popfusion.features.clusters import Clusters
from popfusion.features.columns import PlatformColumns
from popfusion.features.crossmodal import CrossModal
from popfusion.features.external import ExternalFeatures
from popfusion.features.image import ImageEmbedding, ImageStats
from popfusion.features.knn import NeighbourLabels
from popfusion.features.lexical import LexicalModel
from popfusion.features.meta import Metadata
from popfusion.features.text import TextEmbedding
from popfusion.features.trend import AudienceTrend
from popfusion.features.user_history import UserHistory
from popfusion.registry import construct

log = logging.getLogger(__name__)

BLOCKS: dict[str, type[FeatureBlock]] = {
    cls.name: cls for cls in (Metadata, UserHistory, PlatformColumns, AudienceTrend, TextEmbedding,
                              LexicalModel, ImageStats, ImageEmbedding, CrossModal, Clusters, NeighbourLabels,
                              ExternalFeatures)
}


def make_block(name: str, params: dict | None = None) -> FeatureBlock:
    """A block by its recipe name, with its parameters checked against its signature."""
    return construct(BLOCKS, name, params, "feature block")


def applicable(posts: pd.DataFrame, blocks: list[FeatureBlock]) -> list[FeatureBlock]:
    """The blocks that apply to ``posts``; each one left out is named in the log."""
    kept = [b for b in blocks if b.applies(posts)]
    for block in blocks:
        if block not in kept:
            log.info("feature block %s: nothing to read in this data (no images); left out", block)
    return kept


def build_features(posts: pd.DataFrame, blocks: list[FeatureBlock], cache_dir: str | Path,
                   fitted: bool = False) -> tuple[pd.DataFrame, list[BlockResult]]:
    """All blocks' columns side by side, indexed like ``posts`` (``fitted``: blocks stay
    fitted for later ``transform`` calls even when their frames come from the cache).
    Give it the blocks that apply to the posts (``applicable``)."""
    cache = FeatureCache(cache_dir)
    frames, results = [], []
    for block in blocks:
        log.info("feature block %s", block)
        frame, result = cache.build(block, posts, fitted)
        frames.append(frame)
        results.append(result)
    frame = pd.concat(frames, axis=1) if frames else pd.DataFrame(index=posts.index)
    duplicated = frame.columns[frame.columns.duplicated()]
    if len(duplicated):
        raise ValueError(f"two blocks made the same columns ({', '.join(duplicated[:5])}): "
                         "give them different parameters or drop one")
    return frame, results
