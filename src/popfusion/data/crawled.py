"""Crawled user totals (the output of ``popfusion crawl users``) joined onto posts.

The table is keyed by ``pathalias``: the author's path alias, or the user id for authors
without one, exactly as the crawler keyed them. Posts whose author was not crawled keep
empty totals; none is dropped.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from popfusion.data import schema
from popfusion.data.schema import DataError

log = logging.getLogger(__name__)


def read_crawled(path: str | Path) -> pd.DataFrame:
    """The crawled totals at ``path`` (.parquet or .csv), coerced and checked."""
    path = Path(path)
    if not path.is_file():
        raise DataError("crawled totals file not found", source=str(path))
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False) if path.suffix.lower() == ".csv" \
            else pd.read_parquet(path)
    except (ValueError, OSError, pd.errors.ParserError) as err:
        raise DataError(f"cannot read crawled totals: {err}", source=str(path)) from err
    if "pathalias" not in raw:
        raise DataError("no 'pathalias' column: is this the output of `popfusion crawl users`?",
                        source=str(path), field="pathalias")
    keep = ["pathalias", *(c for c in (*schema.CRAWLED, "crawled_at") if c in raw)]
    table = schema.coerce(raw[keep], source=str(path))
    duplicated = table["pathalias"].duplicated()
    if duplicated.any():
        row = int(table.index[duplicated.to_numpy()][0])
        raise DataError(f"user {table['pathalias'][row]!r} appears twice", source=str(path), row=row,
                        field="pathalias")
    return table


def join_crawled(posts: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """``posts`` with the crawled totals of their authors (replacing any already there)."""
    crawled = read_crawled(path).set_index("pathalias")
    keys = user_keys(posts)
    totals = crawled.reindex(keys.to_numpy()).set_axis(posts.index)
    out = pd.concat([posts.drop(columns=[c for c in crawled.columns if c in posts]), totals], axis=1)
    found = keys.isin(crawled.index)
    log.info("crawled totals for %d of %d posts (%d users); %d posts have none",
             int(found.sum()), len(posts), int(keys[found].nunique()), int((~found).sum()))
    return out[schema.canonical_order(out.columns)]


def user_keys(posts: pd.DataFrame) -> pd.Series:
    """Each post's crawl key: the author's path alias, else the user id."""
    alias = posts["pathalias"].astype("string") if "pathalias" in posts else pd.Series(pd.NA, index=posts.index)
    return alias.where(alias.notna() & (alias.str.strip() != ""), posts["user_id"].astype("string"))
