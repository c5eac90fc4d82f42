"""Embeddings on disk, one file per finished batch, so a killed build loses one batch at
most: on a rerun every finished batch is read back and only the rest is computed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from pathlib import Path

import numpy as np

from popfusion.atomic import atomic_npy
from popfusion.compute import Local, RayCluster, current, ready
from popfusion.progress import progress_bar

log = logging.getLogger(__name__)
_ALONE: ContextVar[bool] = ContextVar("popfusion_encode_alone", default=False)


@contextlib.contextmanager
def one_at_a_time() -> Iterator[None]:
    """Within this block every store encodes each item on its own. A neural encoder's
    vector for an item otherwise depends on what it is batched with: BLAS sums a row
    differently with the matrix's size and the row's place in it (by about 1e-7, and the
    float16 store turns that into a different value for most texts). Prediction encodes
    new posts so, at two to four times the cost an item, so that a post gets the same
    score, to the last bit, alone or in any batch; a run's own bulk encoding stays batched."""
    token = _ALONE.set(True)
    try:
        yield
    finally:
        _ALONE.reset(token)


def encoding_alone() -> bool:
    """Whether stores now encode each item on its own (``one_at_a_time``)."""
    return _ALONE.get()


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
               keys: Sequence[str] | None = None, gpu: bool = False) -> np.ndarray:
        """``fn`` applied to every distinct item, as a (len(items), dim) float32 array.
        ``keys`` identify items on disk (default: the items themselves as text). With a
        store folder, the batches not on disk are tasks of the run's compute (on a
        cluster they run at once, on a GPU where ``gpu`` and the cluster has one), each
        saved here as soon as it is in."""
        keys = [str(i) for i in items] if keys is None else list(keys)
        unique, inverse = np.unique(np.asarray(keys, dtype=object), return_inverse=True)
        first = {k: i for i, k in reversed(list(enumerate(keys)))}
        values = [items[first[k]] for k in unique]
        compute = current() if self.root is not None else Local()  # in memory: in this process
        alone = encoding_alone()
        shared_fn = compute.put(fn)  # sent to a cluster once, not with every batch
        with progress_bar(self.progress and len(unique) > self.batch_size) as bar:
            task = bar.add_task(label, total=len(unique))
            futures = []
            for start in range(0, len(unique), self.batch_size):
                batch = slice(start, start + self.batch_size)
                futures.append(self._batch(compute, shared_fn, values[batch], unique[batch], gpu, alone,
                                           functools.partial(_advance, bar, task, len(unique[batch]))))
            chunks = compute.gather(futures)
        if not chunks:
            return np.zeros((len(keys), 0), np.float32)
        return np.concatenate(chunks)[inverse].astype(np.float32)

    def _batch(self, compute: Local | RayCluster, fn, values: list, keys: np.ndarray, gpu: bool, alone: bool,
               done: Callable[[object], None]):
        digest = hashlib.sha256("\x00".join(keys).encode()).hexdigest()[:24] + ("-alone" if alone else "")
        if self.root is None:  # in memory: the blocks that read one batch (text, clusters, neighbours) share it
            out = _remembered((self.encoder, digest), lambda: self._counted(encode_batch(fn, values, alone)))
            done(out)
            return ready(out)
        path = self.root / f"{digest}.npy"
        if path.exists():
            self.reused += 1
            done(None)
            return ready(np.load(path))

        def finished(out: np.ndarray) -> None:
            atomic_npy(self._counted(out), path)
            done(out)

        # one CPU a batch: on a cluster batches run side by side (one worker process each,
        # as the text encoder's own process pool splits them here), and no task forks
        # processes of its own that would outlive its worker if it is killed
        return compute.submit(encode_batch, fn, values, alone, cpus=1, gpu=gpu, done=finished)

    def _counted(self, out: np.ndarray) -> np.ndarray:
        self.computed += 1
        return out


def encode_batch(fn: Callable[[list], np.ndarray], values: list, alone: bool = False) -> np.ndarray:
    """One batch's vectors (a task), as float16: the store's format; with ``alone``, each
    item encoded on its own (``one_at_a_time``)."""
    if alone and values:
        return np.concatenate([np.asarray(fn([v]), dtype=np.float16) for v in values])
    return np.asarray(fn(values), dtype=np.float16)


def _advance(bar, task, n: int, _result: object) -> None:
    bar.advance(task, n)


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
