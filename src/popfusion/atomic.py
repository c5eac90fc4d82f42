"""Atomic file writes (a file is either complete or absent, never half written), and
the pickles of fitted objects that use them."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def atomic_write(path: Path, data: bytes | str) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)
    return path


def save_pickle(obj: object, path: str | Path) -> Path:
    return atomic_write(Path(path), pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def load_pickle(path: str | Path, kind: type[T]) -> T:
    """The object pickled at ``path``, checked to be a ``kind``."""
    with open(path, "rb") as fh:
        obj = pickle.load(fh)
    if not isinstance(obj, kind):
        raise TypeError(f"{path} does not hold a {kind.__name__}")
    return obj
