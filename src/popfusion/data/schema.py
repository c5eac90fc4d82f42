"""The canonical post table: the one set of columns every part of popfusion reads.

Loaders map their format onto these columns; nothing downstream knows where a post came
from. A table is a plain ``pandas.DataFrame`` whose index is the row number in the
source it was read from, so that an error can always name the row a user must fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

USER_DESC_DIM = 399
LOC_DESC_DIM = 400
USER_DESC_PREFIX = "user_desc_"
LOC_DESC_PREFIX = "loc_desc_"

SPLITS = ("train", "test")
TIME_RANGE = (pd.Timestamp("1970-01-01", tz="UTC"), pd.Timestamp("2100-01-01", tz="UTC"))  # posting times
_NS_RANGE = (pd.Timestamp("1678-01-01", tz="UTC"), pd.Timestamp("2262-01-01", tz="UTC"))  # any stored time


class DataError(ValueError):
    """Input that popfusion cannot use, with the file, row and field that caused it."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.source, self.row, self.field, self.reason = source, row, field, message
        where = [
            f"file {source}" if source is not None else None,
            f"row {row}" if row is not None else None,
            f"field {field!r}" if field is not None else None,
        ]
        located = ", ".join(w for w in where if w)
        super().__init__(f"{located}: {message}" if located else message)


@dataclass(frozen=True)
class Column:
    """One canonical column: its kind decides how values are coerced and checked."""

    name: str
    kind: str  # "str", "time", "float", "flag"
    doc: str
    required: bool = False
    low: float | None = None
    high: float | None = None


COLUMNS: tuple[Column, ...] = (
    Column("post_id", "str", "unique id of the post", required=True),
    Column("user_id", "str", "id of the author", required=True),
    Column("posted_at", "time", "publication time, UTC", required=True),
    Column("split", "str", "'train' (labelled) or 'test'"),
    Column("label", "float", "popularity score, log-scaled views"),
    Column("title", "str", "title or main text"),
    Column("tags", "str", "tags, space-joined"),
    Column("category", "str", "top-level category (SMPD: 11 values)"),
    Column("subcategory", "str", "second-level category (SMPD: 77 values)"),
    Column("concept", "str", "third-level concept (SMPD: 668 values)"),
    Column("latitude", "float", "latitude in degrees, missing when not geotagged", low=-90, high=90),
    Column("longitude", "float", "longitude in degrees", low=-180, high=180),
    Column("geo_accuracy", "float", "Flickr geo accuracy, 0 (none) to 16 (street)", low=0, high=16),
    Column("media_type", "str", "photo or video"),
    Column("media_status", "str", "SMPD Mediastatus"),
    Column("image_path", "str", "local path of the image"),
    Column("image_url", "str", "remote address of the image, when only that is known"),
    Column("pathalias", "str", "the author's Flickr path alias"),
    Column("is_public", "flag", "1 when the post is public"),
    Column("photo_firstdate", "time", "the author's first upload"),
    Column("photo_firstdatetaken", "time", "the author's first photo taken"),
    Column("photo_count", "float", "the author's photo count", low=0),
    Column("ispro", "flag", "1 when the author has a pro account"),
    Column("canbuypro", "flag", "1 when the author can buy a pro account"),
    Column("timezone_offset", "float", "the author's UTC offset in hours", low=-14, high=14),
    Column("timezone_id", "str", "the author's time zone id"),
    # Crawled user totals: taken at crawl time, so they include the post's own later
    # views. Features use them only when a recipe asks for them.
    Column("total_views", "float", "crawled: the author's total views", low=0),
    Column("total_tags", "float", "crawled: the author's total tags", low=0),
    Column("total_geotagged", "float", "crawled: the author's geotagged photos", low=0),
    Column("total_faves", "float", "crawled: the author's total faves", low=0),
    Column("total_in_group", "float", "crawled: the author's photos in groups", low=0),
    Column("user_photo_count", "float", "crawled: the author's photo count", low=0),
    Column("follower_count", "float", "crawled: the author's followers", low=0),
    Column("following_count", "float", "crawled: accounts the author follows", low=0),
    Column("crawled_at", "time", "when the crawled totals were fetched"),
)
BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
REQUIRED: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required)
CRAWLED: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.doc.startswith("crawled"))


def vector_columns(prefix: str, dim: int) -> list[str]:
    """Names of the columns that hold one description vector (user or location)."""
    return [f"{prefix}{i:03d}" for i in range(dim)]


def is_vector_column(name: str) -> bool:
    return name.startswith((USER_DESC_PREFIX, LOC_DESC_PREFIX))


# --- coercion: raw values as files give them -> canonical dtypes -------------------------

_MISSING_STRINGS = ["", " ", "None", "none", "NONE", "null", "NULL", "Null", "nan", "NaN", "NAN",
                    "NA", "na", "N/A", "n/a"]


def missing_mask(values: pd.Series) -> np.ndarray:
    """True where a raw value means 'no value' (None, NaN, '', 'None', 'null', 'N/A')."""
    missing = values.isna().to_numpy(bool)
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        return missing | values.isin(_MISSING_STRINGS).to_numpy(bool)
    return missing


def _first_bad(bad: np.ndarray, values: pd.Series) -> tuple[int, object]:
    pos = int(np.flatnonzero(bad)[0])
    return int(values.index[pos]), values.iloc[pos]


def to_float(values: pd.Series, field: str, source: str | None = None) -> pd.Series:
    """Numbers given as numbers or strings; missing markers become NaN, garbage an error."""
    missing = missing_mask(values)
    out = pd.to_numeric(values.where(~missing), errors="coerce").astype("float64")
    bad = out.isna().to_numpy() & ~missing
    if bad.any():
        row, value = _first_bad(bad, values)
        raise DataError(f"not a number: {value!r}", source=source, row=row, field=field)
    return out


def to_text(values: pd.Series) -> pd.Series:
    """Strings with missing markers ('None', '') as missing values."""
    out = values.astype("string")
    return out.mask(missing_mask(values))


_NUMERIC_DATE = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-]\d{2,4}\b")
DAY_FIRST, MONTH_FIRST = "dayfirst", "monthfirst"


def date_order(text: pd.Series, field: str, source: str | None, time_format: str | None) -> str | None:
    """``dayfirst`` or ``monthfirst`` for dates such as 07/02/2016, from the values where
    one part exceeds 12 or from ``time_format``; None when no value has that shape. Dates
    that parse either way and say nothing of their order are refused: read month-first,
    a day-first 07/02/2016 silently becomes 2 July."""
    parts = text.astype(str).str.extract(_NUMERIC_DATE).dropna().astype(int)
    if parts.empty or time_format in (DAY_FIRST, MONTH_FIRST):
        return time_format if not parts.empty else None
    day_first, month_first = bool((parts[0] > 12).any()), bool((parts[1] > 12).any())
    if day_first and month_first:
        raise DataError("dates with the day first and others with the month first (e.g. 13/02 and 02/13); "
                        "make them one format", source=source, field=field)
    if not (day_first or month_first):
        example = text[parts.index[0]]
        raise DataError(f"ambiguous dates such as {example!r}: each reads day-first and month-first; say "
                        "which with --time-format dayfirst or monthfirst (or a format such as %d/%m/%Y)",
                        source=source, field=field)
    return DAY_FIRST if day_first else MONTH_FIRST


def to_utc(values: pd.Series, field: str, source: str | None = None,
           time_format: str | None = None) -> pd.Series:
    """Timestamps (naive ones are UTC), unix seconds or milliseconds, or date strings, to UTC.
    ``time_format``: ``dayfirst``, ``monthfirst`` or a strptime format, for dates whose
    order the values do not tell (07/02/2016)."""
    if pd.api.types.is_datetime64_any_dtype(values):  # already times (Parquet): no parsing
        times = values.dt.tz_localize("UTC") if values.dt.tz is None else values.dt.tz_convert("UTC")
        return times.astype("datetime64[ns, UTC]")
    missing = missing_mask(values)
    present = values.where(~missing)
    numeric = pd.to_numeric(present, errors="coerce")
    is_num = numeric.notna().to_numpy()
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    if is_num.any():
        secs = numeric[is_num].to_numpy("float64")
        secs = np.where(np.abs(secs) > 1e11, secs / 1000.0, secs)  # milliseconds
        if (np.abs(secs) > 4e9).any():
            bad = np.zeros(len(values), bool)
            bad[np.flatnonzero(is_num)[np.abs(secs) > 4e9]] = True
            row, value = _first_bad(bad, values)
            raise DataError(f"timestamp out of range: {value!r}", source=source, row=row, field=field)
        out[is_num] = pd.to_datetime(np.round(secs * 1e3).astype("int64"), unit="ms", utc=True)
    text = ~is_num & ~missing
    if text.any():
        explicit = time_format not in (None, DAY_FIRST, MONTH_FIRST)
        order = None if explicit else date_order(present[text], field, source, time_format)
        parsed = pd.to_datetime(present[text], errors="coerce", utc=True,
                                format=time_format if explicit else "mixed", dayfirst=order == DAY_FIRST)
        unparsed = parsed.isna().to_numpy()
        outside = ((parsed < _NS_RANGE[0]) | (parsed > _NS_RANGE[1])).to_numpy()  # before the ns cast
        for bad, what in ((unparsed, "not a timestamp: {!r}"),
                          (outside, f"time {{!r}} is outside {_NS_RANGE[0]:%Y} to {_NS_RANGE[1]:%Y}")):
            if bad.any():
                row, value = _first_bad(np.isin(np.arange(len(values)), np.flatnonzero(text)[bad]), values)
                raise DataError(what.format(value), source=source, row=row, field=field)
        out[text] = parsed.dt.as_unit("ns").to_numpy()
    return out


def to_tags(values: pd.Series) -> pd.Series:
    """Tags as one space-joined string, whether given as a list or a string."""
    joined = values.map(lambda v: " ".join(map(str, v)) if isinstance(v, list | tuple | np.ndarray) else v)
    return to_text(joined)


def coerce(table: pd.DataFrame, source: str | None = None, time_format: str | None = None) -> pd.DataFrame:
    """Cast every canonical column of ``table`` to its canonical dtype."""
    out = {}
    for name, values in table.items():
        col = BY_NAME.get(name)
        if col is not None and name != "tags" and values.dtype == object:
            reject_containers(values, name, source)
        if col is None:
            out[name] = values
        elif name == "tags":
            out[name] = to_tags(values)
        elif col.kind == "str":
            out[name] = to_text(values)
        elif col.kind == "time":
            out[name] = to_utc(values, name, source, time_format)
        else:
            out[name] = to_float(values, name, source)
    return pd.DataFrame(out, index=table.index)


def reject_containers(values: pd.Series, field: str, source: str | None) -> None:
    """A list or a dict where one value belongs (JSON ``"Category": [1, 2]``) is an
    error, not the string "[1, 2]"."""
    bad = values.map(lambda v: isinstance(v, list | tuple | dict | np.ndarray)).to_numpy(bool)
    if bad.any():
        row, value = _first_bad(bad, values)
        raise DataError(f"a list or mapping where one value belongs: {value!r}", source=source, row=row,
                        field=field)


# --- validation ------------------------------------------------------------------------------


def validate(table: pd.DataFrame, source: str | None = None) -> pd.DataFrame:
    """Check that ``table`` is a canonical post table; return it unchanged.

    Raises DataError naming ``source``, the row (the table's index) and the field of the
    first problem: a missing required column, a missing required value, a wrong dtype,
    a value out of range, a duplicate post id, or a label that is not finite.
    """
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise DataError(f"required column(s) missing: {', '.join(missing)}", source=source)
    for name in table.columns:
        col = BY_NAME.get(name)
        if col is not None:
            _check_column(table[name], col, source)
        elif is_vector_column(name) and not pd.api.types.is_float_dtype(table[name]):
            raise DataError("description vectors must be float", source=source, field=name)
    dup = table["post_id"].duplicated().to_numpy()
    if dup.any():
        row, value = _first_bad(dup, table["post_id"])
        raise DataError(f"duplicate post id {value!r}", source=source, row=row, field="post_id")
    if "split" in table.columns:
        _check_split(table, source)
    times = table["posted_at"]
    early, late = times < TIME_RANGE[0], times > TIME_RANGE[1]
    if (early | late).any():
        row, value = _first_bad((early | late).to_numpy(), times)
        raise DataError(f"time {value} is outside {TIME_RANGE[0]:%Y} to {TIME_RANGE[1]:%Y}", source=source,
                        row=row, field="posted_at")
    return table


MIN_TRAIN = 50  # labelled posts a run needs: enough for time folds and a hold-out
LABEL_RANGE = (-1e4, 1e4)  # popularity labels are log-scaled; anything beyond is a unit mistake


def check_trainable(table: pd.DataFrame, source: str | None = None) -> pd.DataFrame:
    """What `popfusion run` needs beyond a valid table, checked before any work: at least
    ``MIN_TRAIN`` labelled training posts, labels within ``LABEL_RANGE`` that vary."""
    if not len(table):
        raise DataError("no posts: the file has a header and no rows", source=source)
    labelled = table["split"].eq("train").to_numpy() if "split" in table else np.ones(len(table), bool)
    labels = table["label"] if "label" in table else pd.Series(np.nan, index=table.index)
    labelled = labelled & labels.notna().to_numpy()
    if labelled.sum() < MIN_TRAIN:
        raise DataError(f"{labelled.sum()} labelled training posts; a run needs at least {MIN_TRAIN} (map the "
                        "label column with --map label=<column>)", source=source, field="label")
    y = labels[labelled]
    out = ((y < LABEL_RANGE[0]) | (y > LABEL_RANGE[1])).to_numpy()
    if out.any():
        row, value = _first_bad(out, y)
        raise DataError(f"label {float(value)!r} is outside {LABEL_RANGE[0]:g} to {LABEL_RANGE[1]:g}; "
                        "popfusion expects a log-scaled popularity such as log1p(views)", source=source,
                        row=row, field="label")
    if y.nunique() < 2:
        raise DataError(f"every label is {float(y.iloc[0])!r}: there is nothing to learn", source=source,
                        field="label")
    return table


def _check_column(values: pd.Series, col: Column, source: str | None) -> None:
    def fail(mask: np.ndarray, message: str) -> None:
        row, value = _first_bad(mask, values)
        raise DataError(f"{message}: {value!r}", source=source, row=row, field=col.name)

    if col.required and values.isna().any():
        fail(values.isna().to_numpy(), "required value missing")
    if col.kind == "time":
        if not isinstance(values.dtype, pd.DatetimeTZDtype) or str(values.dtype.tz) != "UTC":
            raise DataError(f"must be a UTC timestamp, not {values.dtype}", source=source, field=col.name)
    elif col.kind in ("float", "flag"):
        if not pd.api.types.is_float_dtype(values):
            raise DataError(f"must be float, not {values.dtype}", source=source, field=col.name)
        arr = values.to_numpy("float64", na_value=np.nan)
        if np.isinf(arr).any():
            fail(np.isinf(arr), "not finite")
        if col.kind == "flag" and not np.isin(arr[~np.isnan(arr)], (0.0, 1.0)).all():
            fail(~np.isnan(arr) & ~np.isin(arr, (0.0, 1.0)), "must be 0 or 1")
        with np.errstate(invalid="ignore"):
            if col.low is not None and (arr < col.low).any():
                fail(arr < col.low, f"below {col.low}")
            if col.high is not None and (arr > col.high).any():
                fail(arr > col.high, f"above {col.high}")
    elif not (pd.api.types.is_string_dtype(values) or values.isna().all()):
        raise DataError(f"must be text, not {values.dtype}", source=source, field=col.name)


def _check_split(table: pd.DataFrame, source: str | None) -> None:
    split = table["split"]
    bad = ~split.isin(SPLITS).to_numpy()
    if bad.any():
        row, value = _first_bad(bad, split)
        raise DataError(f"split must be 'train' or 'test': {value!r}", source=source, row=row, field="split")
    if "label" in table.columns:
        unlabelled = ((split == "train") & table["label"].isna()).to_numpy()
        if unlabelled.any():
            row, _ = _first_bad(unlabelled, split)
            raise DataError("training row has no label", source=source, row=row, field="label")


def canonical_order(columns: Iterable[str]) -> list[str]:
    """Canonical columns first in schema order, then vectors, then anything else."""
    columns = list(columns)
    known = [c.name for c in COLUMNS if c.name in columns]
    vectors = [c for c in columns if is_vector_column(c)]
    rest = [c for c in columns if c not in BY_NAME and not is_vector_column(c)]
    return known + vectors + rest
