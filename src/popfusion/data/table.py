"""Read any platform's posts (CSV, Parquet, JSON Lines) into the canonical post table.

A column map says which source column holds which canonical column, for example
``id=tweet_id,text=content,time=created_at,label=log_likes``. Source columns that
already carry a canonical name need no entry; other columns are kept as they are.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from popfusion.data import schema
from popfusion.data.crawled import join_crawled
from popfusion.data.schema import DataError
from popfusion.data.smpd import is_smpd_folder, read_smpd

log = logging.getLogger(__name__)

ALIASES: dict[str, str] = {
    "id": "post_id", "pid": "post_id", "post": "post_id",
    "user": "user_id", "uid": "user_id", "author": "user_id",
    "time": "posted_at", "date": "posted_at", "timestamp": "posted_at", "created_at": "posted_at",
    "text": "title", "caption": "title",
    "image": "image_path", "lat": "latitude", "lon": "longitude", "lng": "longitude",
    "y": "label", "target": "label",
}
SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet",
            ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


def parse_column_map(spec: str | dict[str, str] | None) -> dict[str, str]:
    """``"id=tweet_id,text=content"`` (or a dict) -> {canonical column: source column}."""
    if not spec:
        return {}
    pairs = spec.items() if isinstance(spec, dict) else (_pair(p) for p in spec.split(",") if p.strip())
    out: dict[str, str] = {}
    for key, source in pairs:
        canonical = ALIASES.get(key.strip().lower(), key.strip())
        if canonical not in schema.BY_NAME:
            known = ", ".join(sorted({*schema.BY_NAME, *ALIASES}))
            raise DataError(f"unknown column {key!r} in the column map; known: {known}")
        out[canonical] = source.strip()
    return out


def _pair(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise DataError(f"column map entries look like canonical=source, not {item!r}")
    return key, value


def load(
    path: str | Path | pd.DataFrame,
    column_map: str | dict[str, str] | None = None,
    image_root: str | Path | None = None,
    vectors: bool = True,
    crawled: str | Path | None = None,
    time_format: str | None = None,
) -> pd.DataFrame:
    """Load posts from an SMPD folder, a CSV / Parquet / JSON Lines file or a DataFrame
    already in memory (mapped and checked as a file is), with the crawled user totals from
    ``crawled`` (the output of ``popfusion crawl users``). ``time_format``: ``dayfirst``,
    ``monthfirst`` or a strptime format for dates whose order the values leave open."""
    if isinstance(path, pd.DataFrame):
        posts = from_frame(path, column_map, image_root, time_format)
        return join_crawled(posts, crawled) if crawled is not None else posts
    path = Path(path)
    if path.is_dir():
        if not is_smpd_folder(path):
            raise DataError("folder holds no SMPD files (train_category.json / test_category.json)",
                            source=str(path))
        posts = read_smpd(path, image_root=image_root, vectors=vectors)
    else:
        posts = read_posts(path, column_map, image_root, time_format)
    return join_crawled(posts, crawled) if crawled is not None else posts


def read_posts(
    path: str | Path,
    column_map: str | dict[str, str] | None = None,
    image_root: str | Path | None = None,
    time_format: str | None = None,
) -> pd.DataFrame:
    """Read one file of posts and map it onto the canonical table.

    Rows with a label are training rows and rows without one are test rows, unless a
    ``split`` column says otherwise. Relative image paths resolve against ``image_root``
    (default: the file's folder). Row numbers in errors count data rows from 0.
    """
    path = Path(path)
    return from_frame(_read_raw(path), column_map, image_root or path.parent, time_format, str(path))


def from_frame(raw: pd.DataFrame, column_map: str | dict[str, str] | None = None,
               image_root: str | Path | None = None, time_format: str | None = None,
               source: str = "the DataFrame") -> pd.DataFrame:
    """A table of posts as read from a file (``source`` names it in errors), mapped onto
    the canonical table and checked; relative image paths resolve against ``image_root``
    (default: the working folder)."""
    mapping = parse_column_map(column_map)
    absent = [src for src in mapping.values() if src not in raw.columns]
    if absent:
        raise DataError(f"column(s) {', '.join(map(repr, absent))} not in the file; it has "
                        f"{', '.join(map(str, raw.columns))}", source=source)
    renamed = raw.rename(columns={src: dst for dst, src in mapping.items()})
    renamed = renamed.loc[:, ~renamed.columns.duplicated(keep="last")]
    missing = [c for c in schema.REQUIRED if c not in renamed.columns]
    if missing:
        raise DataError(f"required column(s) {', '.join(missing)} missing; map them with "
                        f"--map, e.g. --map {missing[0]}=<column> (file has "
                        f"{', '.join(map(str, raw.columns))})", source=source)
    table = schema.coerce(renamed, source=source, time_format=time_format)
    if "split" not in table.columns:
        labelled = table["label"].notna() if "label" in table.columns else False
        if "label" in table.columns and not labelled.all():
            written = renamed["label"].astype("string").str.strip().fillna("").ne("")
            markers = int((~labelled & written).sum())  # not empty, yet no label: 'NaN', 'None', ...
            marked = f" ({markers} hold a missing marker such as 'NaN' or 'None')" if markers else ""
            log.info("%s: %d of %d rows have no label and are posts to predict%s", source, (~labelled).sum(),
                     len(table), marked)
        table.insert(0, "split", pd.Series(np.where(labelled, "train", "test"), index=table.index,
                                           dtype="string"))
    if "image_path" in table.columns:
        table["image_path"] = _resolve(table["image_path"], Path(image_root or "."))
    table = table[schema.canonical_order(table.columns)]
    return schema.validate(table, source=source)


def _read_raw(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError("file not found", source=str(path))
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"unknown file type {path.suffix!r}; use {', '.join(SUFFIXES)} "
                        "or an SMPD folder", source=str(path))
    try:
        if kind in ("csv", "tsv"):
            return pd.read_csv(path, sep="\t" if kind == "tsv" else ",", dtype=str,
                               keep_default_na=False)
        if kind == "parquet":
            return pd.read_parquet(path)
    except (ValueError, OSError, pd.errors.ParserError) as err:
        raise DataError(f"cannot read {kind}: {err}", source=str(path)) from err
    return _read_jsonl(path)


def _read_jsonl(path: Path) -> pd.DataFrame:
    records = []
    with open(path, "rb") as fh:
        for i, line in enumerate(ln for ln in fh if ln.strip()):
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as err:
                raise DataError(f"malformed JSON ({err.msg})", source=str(path), row=i) from err
            if not isinstance(record, dict):
                raise DataError("each line must be a JSON object", source=str(path), row=i)
            records.append(record)
    return pd.DataFrame.from_records(records)


def _resolve(paths: pd.Series, root: Path) -> pd.Series:
    """Relative image paths -> paths under ``root``; absolute ones and URLs stay."""
    keep = paths.isna() | paths.str.startswith("/") | paths.str.contains("://", regex=False)
    return paths.where(keep.fillna(True), str(root) + "/" + paths)
