"""Features computed elsewhere, joined by post id: the SMP-2025 solution joined two sets
of features another team had published. A file is read once, checked, and its numeric
columns become ``external_<prefix><column>``.

Leak risk: popfusion cannot see how such features were made. If they were computed with
labels (another model's predictions, target encodings, anything fitted on labels of the
posts being scored), hold-out scores overstate what the run will do on new posts. Use
only features computed without labels, or out of fold on this split.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from popfusion.data.columns import safe_name
from popfusion.data.schema import DataError
from popfusion.features.base import FeatureBlock, positions

log = logging.getLogger(__name__)


class ExternalFeatures(FeatureBlock):
    """Per-post features from a CSV, Parquet or NumPy ``.npz`` file (arrays ``post_id``
    and ``features``), joined on ``id_column``; ``columns`` picks some (default: every
    numeric one). ``missing``: ``error`` refuses posts the file has no row for, counting
    them; ``fill`` leaves their columns empty (NaN) and says how many. Leak risk: see the
    module's note; a warning repeats it at every fit."""

    name = "external"

    def __init__(self, path: str = "", id_column: str = "post_id", prefix: str = "",
                 columns: list[str] | None = None, missing: Literal["error", "fill"] = "error") -> None:
        if not path:
            raise ValueError("the external block needs path: a CSV, Parquet or .npz file of features by "
                             "post id")
        if missing not in ("error", "fill"):
            raise ValueError(f"external: missing must be error or fill, not {missing!r}")
        super().__init__(path=path, id_column=id_column, prefix=prefix, columns=columns, missing=missing)

    def fingerprint(self) -> str:
        """Parameters and the file's content: an edited file is joined again, not read from
        the feature cache."""
        stat = Path(self.params["path"]).stat()
        content = _file_digest(self.params["path"], stat.st_size, stat.st_mtime_ns)
        return hashlib.sha256(f"{super().fingerprint()}|{content}".encode()).hexdigest()[:16]

    def leak_risk(self) -> str:
        """What a user must know about this file (said at every fit and by data describe)."""
        return (f"external features from {self.params['path']}: popfusion cannot tell how they were made; "
                "if they were computed with labels, hold-out scores overstate the run "
                "(see popfusion.features.external)")

    def fit(self, posts: pd.DataFrame) -> ExternalFeatures:
        log.warning(self.leak_risk())
        table = read_features(Path(self.params["path"]), self.params["id_column"], self.params["columns"])
        self.ids_ = table.index
        self.columns_ = [f"{self.name}_{self.params['prefix']}{safe_name(c)}" for c in table.columns]
        empty = np.full((1, table.shape[1]), np.nan, np.float32)  # the row of a post the file lacks
        self.values_ = np.vstack([table.to_numpy(np.float32), empty])
        return self

    def transform(self, posts: pd.DataFrame) -> pd.DataFrame:
        ids = posts["post_id"].astype(str)
        rows = positions(self.ids_, ids)
        absent = int((rows < 0).sum())
        if absent:
            examples = ", ".join(ids[rows < 0].head(3))
            message = (f"{self.params['path']}: no row for {absent:,} of {len(ids):,} posts (post_id {examples}"
                       f"{', ...' if absent > 3 else ''})")
            if self.params["missing"] == "error":
                raise DataError(f"{message}; give the external block missing: fill to leave them empty")
            log.warning("%s: their external columns are left empty", message)
        return pd.DataFrame(self.values_[rows], index=posts.index, columns=self.columns_)


@functools.lru_cache(maxsize=16)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    """The file's content hash, read once a process while its size and time stay the same
    (a run asks for it in each stage)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_features(path: Path, id_column: str, columns: list[str] | None) -> pd.DataFrame:
    """The file's numeric feature columns, indexed by post id as text; a clear error for a
    file that is missing, has no id column, repeats an id or has a column that is not numeric."""
    if not path.is_file():
        raise DataError(f"{path}: no such external features file")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as arrays:
            if {"post_id", "features"} - set(arrays.files):
                raise DataError(f"{path}: an .npz of external features needs arrays post_id and features, "
                                f"it has {', '.join(arrays.files)}")
            values = arrays["features"]
            flat = values.reshape(len(values), -1)
            table = pd.DataFrame(flat, columns=[str(i) for i in range(flat.shape[1])])
            table.insert(0, id_column, arrays["post_id"].astype(str))
    elif suffix == ".parquet":
        table = pd.read_parquet(path)
    elif suffix == ".csv":
        table = pd.read_csv(path, dtype={id_column: str})
    else:
        raise DataError(f"{path}: external features must be .csv, .parquet or .npz (arrays post_id and "
                        "features)")
    if id_column not in table:
        shown = ", ".join(map(str, table.columns[:10]))
        raise DataError(f"{path}: no id column {id_column!r} (columns: {shown}); set id_column")
    table = table.set_index(table.pop(id_column).astype(str))
    repeated = table.index.duplicated()
    if repeated.any():
        raise DataError(f"{path}: {repeated.sum():,} post ids appear more than once "
                        f"(first: {table.index[repeated][0]})")
    if columns is not None:
        unknown = [c for c in columns if c not in table]
        if unknown:
            raise DataError(f"{path}: no column {', '.join(map(repr, unknown))}")
        table = table[columns]
    for col in table.columns:
        if pd.api.types.is_numeric_dtype(table[col]) or pd.api.types.is_bool_dtype(table[col]):
            continue
        numbers = pd.to_numeric(table[col], errors="coerce")
        bad = table[col][numbers.isna() & table[col].notna()]
        if len(bad):
            raise DataError(f"{path}: column {col!r} is not numeric (post_id {bad.index[0]}: {bad.iloc[0]!r}); "
                            "pick numeric columns with columns: [...]")
        table[col] = numbers
    return table.astype(np.float32)
