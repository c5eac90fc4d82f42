"""The platform's own columns: every column of a file that is not a canonical one, typed
from its content the way AutoGluon's feature generators type a table.

A CSV export of another platform carries much of its signal in columns popfusion has no
canonical name for (the posting app, a reply flag, a domain, a flair, a body text, the
author's follower count). ``infer_types`` says what each holds, so that the ``columns``
feature block, the text block and the lexical model can use it, and ``popfusion data
describe`` can show it. Nothing here reads labels.
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd

from popfusion.data import schema

KINDS = {
    "numeric": "numbers: used as they are",
    "boolean": "two values (true/false, yes/no, 0/1): 1.0 or 0.0",
    "datetime": "dates: calendar parts and the age in days at posting time",
    "category": "few distinct values: category codes (native categoricals for the GBDTs) and frequency",
    "high_category": "many distinct values (a domain, a location): frequency and the mean of earlier labels",
    "list": "lists of items (hashtags): item count; the items are text for the text block and lexical model",
    "text": "free text: lengths here; embedded by the text block and read by the lexical model",
    "id": "unique per row (an id, a URL): not a feature",
    "empty": "no values or a single one: not a feature",
    "drop": "left out by the recipe",
}
log = logging.getLogger(__name__)
FEATURE_KINDS = ("numeric", "boolean", "datetime", "category", "high_category", "list", "text")
TEXT_KINDS = ("text", "list")
MAX_CATEGORIES = 100  # distinct values up to which a string column is a plain category
_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}
_LIST = re.compile(r"^\s*\[.*\]\s*$", re.S)
_SAMPLE = 2000  # values looked at when a column's kind needs parsing


def extra_columns(posts: pd.DataFrame) -> list[str]:
    """Columns of ``posts`` that are not canonical (nor SMPD description vectors)."""
    return [c for c in posts.columns if c not in schema.BY_NAME and not schema.is_vector_column(c)]


def infer_types(posts: pd.DataFrame, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Each extra column's kind (one of ``KINDS``); ``overrides`` win over what is inferred."""
    overrides = overrides or {}
    unknown = {k: v for k, v in overrides.items() if v not in KINDS}
    if unknown:
        raise ValueError(f"unknown column kind(s) {unknown}; known: {', '.join(KINDS)}")
    return {c: overrides.get(c) or kind_of(posts, c) for c in extra_columns(posts)}


KINDS_ATTR = "column_kinds"  # posts.attrs key: the kinds a fitted model learned its columns as


class _Kinds(dict):
    """Column kinds in a frame's ``attrs``, shared by every frame derived from it: pandas
    deep-copies ``attrs`` in nearly every operation, which was 4.5 ms of a one-post request."""

    def __deepcopy__(self, memo: dict) -> _Kinds:
        return self


def with_kinds(posts: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """``posts`` marked with the column kinds a model was fitted with. A column's kind is
    inferred from its values, and a few new posts (one, in a service) cannot show what a
    column holds: marked posts read every column as it was read in training, and a column
    training did not have as ``empty``, so no post's features depend on its batch."""
    marked = posts.copy(deep=False)
    marked.attrs[KINDS_ATTR] = _Kinds(kinds)
    return marked


def kind_of(posts: pd.DataFrame, column: str) -> str:
    """One extra column's kind: as marked (``with_kinds``), else inferred."""
    known = posts.attrs.get(KINDS_ATTR)
    return known.get(column, "empty") if known is not None else infer_kind(posts[column])


def infer_kind(values: pd.Series) -> str:
    """The kind of one column, from its non-missing values."""
    present = values[~schema.missing_mask(values)]
    if present.nunique(dropna=True) <= 1:
        return "empty"
    if pd.api.types.is_bool_dtype(present):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(present):
        return "datetime"
    if pd.api.types.is_numeric_dtype(present):
        return _numeric_kind(present, len(values))
    picked = present.sample(_SAMPLE, random_state=0) if len(present) > _SAMPLE else present
    if picked.map(lambda v: isinstance(v, list | tuple | np.ndarray)).any():
        return "list"
    text, sample = present.astype(str), picked.astype(str)
    lowered = set(sample.str.strip().str.lower().unique())
    if len(lowered) == 2 and lowered <= _TRUE | _FALSE and lowered & _TRUE and lowered & _FALSE:
        return "boolean"
    if pd.to_numeric(sample, errors="coerce").notna().mean() >= 0.98:
        return _numeric_kind(pd.to_numeric(text, errors="coerce").dropna(), len(values))
    if sample.str.match(_LIST).mean() >= 0.9 or _pipe_joined(sample):
        return "list"
    words = sample.str.split().str.len().mean()
    if words >= 3:
        return "text"
    if _dates(sample).notna().mean() >= 0.98:
        return "datetime"
    distinct = text.nunique()
    if distinct >= 0.95 * len(text):
        return "id"
    return "category" if distinct <= MAX_CATEGORIES else "high_category"


def _numeric_kind(values: pd.Series, rows: int) -> str:
    numbers = values.to_numpy(float)
    numbers = numbers[np.isfinite(numbers)]
    if set(np.unique(numbers)) <= {0.0, 1.0}:
        return "boolean"
    integral = np.all(np.mod(numbers, 1) == 0)
    if integral and values.nunique() == rows:
        return "id"  # an integer for every row: a row number or an id, not a quantity
    return "numeric"


def _pipe_joined(sample: pd.Series) -> bool:
    return bool(sample.str.contains("|", regex=False).mean() >= 0.5
                and sample.str.split("|").str.len().mean() >= 2)


def _dates(values: pd.Series) -> pd.Series:
    """Date strings as UTC times (NaT where not a date)."""
    return pd.to_datetime(values, errors="coerce", utc=True, format="mixed")


def as_numbers(values: pd.Series) -> pd.Series:
    """A numeric or boolean column as floats (NaN where missing, unparsable or infinite)."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        out = pd.Series(values.to_numpy("float64", na_value=np.nan), index=values.index)
    else:
        text = values.astype("string").str.strip().str.lower()
        flags = text.map(lambda v: 1.0 if v in _TRUE else 0.0 if v in _FALSE else np.nan)
        numbers = pd.to_numeric(text.where(~schema.missing_mask(values)), errors="coerce")
        out = numbers.where(numbers.notna(), flags).astype(float)
    return out.where(np.isfinite(out))


def as_dates(values: pd.Series) -> pd.Series:
    """A datetime column as UTC times. Dates such as 07/02/2016 take their order from the
    values that settle it; where none does they are read month-first, with a warning that
    names the column (a feature, unlike the posting time, is not worth stopping a run for)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.tz_localize("UTC") if values.dt.tz is None else values.dt.tz_convert("UTC")
    text = values.astype("string").where(~schema.missing_mask(values))
    try:
        order = schema.date_order(text.dropna(), str(values.name), None, None)
    except schema.DataError:
        log.warning("column %r: its dates (such as %s) read day-first and month-first alike; read "
                    "month-first (leave it out with {block: columns, params: {drop: [%s]}} if that is wrong)",
                    values.name, text.dropna().iloc[0], values.name)
        order = schema.MONTH_FIRST
    return pd.to_datetime(text, errors="coerce", utc=True, format="mixed", dayfirst=order == schema.DAY_FIRST)


def as_items(values: pd.Series) -> pd.Series:
    """A list column as space-joined items ('' when missing): "['a', 'b']", "a|b" and real
    lists alike."""
    def items(v: object) -> str:
        if isinstance(v, list | tuple | np.ndarray):
            return " ".join(str(x) for x in v)
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return ""
        s = str(v).strip()
        if _LIST.match(s):
            return " ".join(re.findall(r"[^\s\[\]'\",]+", s))
        return " ".join(p.strip().replace(" ", "_") for p in s.split("|") if p.strip())
    return values.map(items).astype(str)


def column_text(posts: pd.DataFrame, column: str, kind: str) -> pd.Series:
    """The text a text or list column gives the text block and the lexical model."""
    if kind == "list":
        return as_items(posts[column])
    return posts[column].astype("string").where(~schema.missing_mask(posts[column])).fillna("").astype(str)


def text_columns(posts: pd.DataFrame) -> list[str]:
    """The extra columns that hold text or lists of items, in file order."""
    return [c for c, kind in infer_types(posts).items() if kind in TEXT_KINDS]


def safe_name(column: str) -> str:
    """A feature-name-safe version of a column name (LightGBM refuses some characters)."""
    return re.sub(r"[^0-9a-zA-Z]+", "_", str(column)).strip("_").lower() or "column"
