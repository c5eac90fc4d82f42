"""Atomic file writes (a file is either complete or absent, never half written), and
the pickles of fitted objects that use them."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

T = TypeVar("T")


def atomic_write(path: Path, data: bytes | str) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)
    return path


def atomic_parquet(frame: pd.DataFrame, path: Path) -> Path:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return atomic_write(path, buf.getvalue())


def atomic_npy(array: np.ndarray, path: Path) -> Path:
    buf = io.BytesIO()
    np.save(buf, array)
    return atomic_write(path, buf.getvalue())


def save_pickle(obj: object, path: str | Path) -> Path:
    return atomic_write(Path(path), pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def load_pickle(path: str | Path, kind: type[T]) -> T:
    """The object pickled at ``path``, checked to be a ``kind``."""
    with open(path, "rb") as fh:
        obj = pickle.load(fh)
    if not isinstance(obj, kind):
        raise TypeError(f"{path} does not hold a {kind.__name__}")
    return obj
