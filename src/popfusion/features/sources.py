"""The embeddings that cluster, neighbour and cross-modal blocks are built on, read from
the same embedding store as the text and image blocks (so nothing is encoded twice)."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from popfusion.features.base import FeatureBlock
from popfusion.features.store import EmbeddingStore, encoding_alone
from popfusion.features.text import field_texts, make_encoder

SOURCES = ("text", "image")


def source_embeddings(posts: pd.DataFrame, source: str, cache_dir: Path | None,
                      image_size: int = 224) -> np.ndarray:
    """(n, d) float32 embeddings of each post's joined text or image (NaN rows where an
    image is missing), with the default encoders (images at ``image_size`` pixels)."""
    if source == "text":
        encoder = _text_encoder()
        store = EmbeddingStore(cache_dir, encoder.fingerprint(), 1024)
        texts = field_texts(posts, "joined").tolist()
        return store.encode(encoder.encode, texts, "text:joined", gpu=encoder.gpu)
    if source == "image":
        from popfusion.features.image import embed_images, image_paths, make_image_encoder

        encoder = make_image_encoder("efficientnet", size=image_size)
        vectors, _ = embed_images(encoder, image_paths(posts), cache_dir, {"batch_size": 32, "workers": 2})
        return vectors
    raise ValueError(f"unknown embedding source {source!r}: {', '.join(SOURCES)}")


@functools.cache
def _text_encoder():
    """The default text encoder, one a process (its worker processes start once)."""
    return make_encoder("use")


_LAST: dict[str, tuple[str, np.ndarray]] = {}  # the last embeddings per source, this process


def block_embeddings(block: FeatureBlock, posts: pd.DataFrame) -> np.ndarray:
    """Unit-length embeddings of the source a block's parameters name. The last result per
    source is kept, so a block's fit and transform of the same posts read the store once."""
    p = block.params
    key = _fingerprint(posts, p["source"], block.cache_dir, p["image_size"])
    last = _LAST.get(p["source"])
    if last is None or last[0] != key:
        vectors = normalise(source_embeddings(posts, p["source"], block.cache_dir, p["image_size"]))
        _LAST[p["source"]] = last = (key, vectors)
    return last[1]


def _fingerprint(posts: pd.DataFrame, source: str, cache_dir: Path | None, image_size: int) -> str:
    column = "image_path" if source == "image" else None
    values = posts[column] if column in posts else field_texts(posts, "joined")
    digest = hashlib.sha256(f"{source}|{cache_dir}|{image_size}|{len(posts)}|{encoding_alone()}".encode())
    digest.update(pd.util.hash_pandas_object(values.astype(str), index=False).to_numpy().tobytes())
    return digest.hexdigest()


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero and NaN rows stay as they are)."""
    norms = np.linalg.norm(np.nan_to_num(vectors), axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)
