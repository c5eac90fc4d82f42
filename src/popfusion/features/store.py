"""Embeddings on disk, one file per finished batch, so a killed build loses one batch at
most: on a rerun every finished batch is read back and only the rest is computed.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from popfusion.atomic import atomic_npy
from popfusion.progress import progress_bar

log = logging.getLogger(__name__)


class EmbeddingStore:
    """Encodes distinct items once, in sorted batches kept as float16 .npy files under
    ``root/<encoder>/``; with no ``root`` it only batches and deduplicates."""

    def __init__(self, root: str | Path | None, encoder: str, batch_size: int = 1024,
                 progress: bool = True) -> None:
        self.encoder = encoder
        self.root = Path(root) / _safe(encoder) if root is not None else None
        self.batch_size = batch_size
        self.progress = progress
        self.computed = self.reused = 0  # batches, for the build summary

    def encode(self, fn: Callable[[list], np.ndarray], items: Sequence, label: str,
               keys: Sequence[str] | None = None) -> np.ndarray:
        """``fn`` applied to every distinct item, as a (len(items), dim) float32 array.
        ``keys`` identify items on disk (default: the items themselves as text)."""
        keys = [str(i) for i in items] if keys is None else list(keys)
        unique, inverse = np.unique(np.asarray(keys, dtype=object), return_inverse=True)
        first = {k: i for i, k in reversed(list(enumerate(keys)))}
        values = [items[first[k]] for k in unique]
        chunks = []
        with progress_bar(self.progress and len(unique) > self.batch_size) as bar:
            task = bar.add_task(label, total=len(unique))
            for start in range(0, len(unique), self.batch_size):
                batch_keys = unique[start : start + self.batch_size]
                chunks.append(self._batch(fn, values[start : start + self.batch_size], batch_keys))
                bar.advance(task, len(batch_keys))
        if not chunks:
            return np.zeros((len(keys), 0), np.float32)
        return np.concatenate(chunks)[inverse].astype(np.float32)

    def _batch(self, fn: Callable[[list], np.ndarray], values: list, keys: np.ndarray) -> np.ndarray:
        digest = hashlib.sha256("\x00".join(keys).encode()).hexdigest()[:24]
        if self.root is None:  # in memory: the blocks that read one batch (text, clusters, neighbours) share it
            return _remembered((self.encoder, digest), lambda: self._computed(fn, values))
        path = self.root / f"{digest}.npy"
        if path.exists():
            self.reused += 1
            return np.load(path)
        out = self._computed(fn, values)
        atomic_npy(out, path)
        return out

    def _computed(self, fn: Callable[[list], np.ndarray], values: list) -> np.ndarray:
        self.computed += 1
        return np.asarray(fn(values), dtype=np.float16)


_RECENT: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()  # batches encoded without a root
_RECENT_SIZE = 16
_RECENT_LOCK = threading.Lock()


def _remembered(key: tuple[str, str], compute: Callable[[], np.ndarray]) -> np.ndarray:
    """The batch ``key`` from the last few encoded in memory, else computed and kept."""
    with _RECENT_LOCK:
        if key in _RECENT:
            _RECENT.move_to_end(key)
            return _RECENT[key]
    out = compute()
    with _RECENT_LOCK:
        _RECENT[key] = out
        while len(_RECENT) > _RECENT_SIZE:
            _RECENT.popitem(last=False)
    return out


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
