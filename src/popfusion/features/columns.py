"""The platform's own columns as features: every column the column map did not name.

Each column is typed from its content (``popfusion.data.columns``) and encoded by its kind:
numbers and flags as they are; dates as calendar parts and their age at posting time;
categories as codes (``__cat``, native categoricals for the GBDTs) with their frequency;
high-cardinality values (a domain, a location) as their frequency and the statistics of
earlier labels with the same value, strictly time-respecting as the user history is
(a training post sees only training posts with that value published before it); text
and lists as lengths and item counts (their words go to the text block and the lexical
model). Ids and constant columns are not features.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from popfusion.data.columns import as_dates, as_items, as_numbers, column_text, infer_types, safe_name
from popfusion.features.base import DAY, FeatureBlock, labelled_mask, lookup, utc_seconds
from popfusion.features.meta import encode_codes, vocabulary
from popfusion.features.target_stats import LabelHistory

TARGET_STATS = ("mean_shrunk", "count", "recent_mean", "age_days")


class PlatformColumns(FeatureBlock):
    """Features from the columns the column map left unnamed.

    ``types``: a kind per column that wins over the inferred one (see
    ``popfusion.data.columns.KINDS``; ``drop`` leaves a column out). ``drop``: columns to
    leave out. ``shrink``: prior weight (in posts) of the global mean in the label
    statistics of high-cardinality values.
    """

    name = "columns"
    uses_labels = True

    def __init__(self, types: dict[str, str] | None = None, drop: list[str] | None = None,
                 shrink: float = 5.0) -> None:
        super().__init__(types=dict(types or {}), drop=list(drop or []), shrink=shrink)

    def fit(self, posts: pd.DataFrame) -> PlatformColumns:
        missing = [c for c in [*self.params["types"], *self.params["drop"]] if c not in posts]
        if missing:
            raise ValueError(f"columns block: no column(s) {', '.join(missing)} in the data; "
                             f"it has {', '.join(map(str, posts.columns))}")
        overrides = {**self.params["types"], **dict.fromkeys(self.params["drop"], "drop")}
        self.types_ = infer_types(posts, overrides)
        self.names_: dict[str, str] = {}  # feature-safe and distinct: "a b" and "a_b" both exist
        for col in self.types_:
            name, k = safe_name(col), 2
            while name in self.names_.values():
                name, k = f"{safe_name(col)}_{k}", k + 1
            self.names_[col] = name
        self.codes_, self.counts_, self.history_ = {}, {}, {}
        labelled, t = labelled_mask(posts), utc_seconds(posts["posted_at"])
        history = pd.DataFrame({"post_id": posts["post_id"].to_numpy(), "t": t,
                                "label": posts["label"].to_numpy("float64")})[labelled]
        for col, kind in self.types_.items():
            if kind in ("category", "high_category"):
                values = _keys(posts[col])
                self.counts_[col] = values.value_counts()
                if kind == "category":
                    self.codes_[col] = vocabulary(values)
                else:
                    self.history_[col] = LabelHistory(history.assign(key=values.to_numpy()[labelled]))
            elif kind == "list":
                items = _items(posts[col])
                self.counts_[col] = items.value_counts()
                self.history_[col] = LabelHistory(history.join(items.rename("key"), how="inner"))
        return self

    def transform(self, posts: pd.DataFrame) -> pd.DataFrame:
        parts = [self._encode(posts, col, kind) for col, kind in self.types_.items()]
        out = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=posts.index)
        return out.astype("float32").add_prefix(f"{self.name}_")

    def _encode(self, posts: pd.DataFrame, col: str, kind: str) -> pd.DataFrame:
        name, values = self.names_[col], posts[col]
        f: dict[str, pd.Series | np.ndarray] = {}
        if kind in ("numeric", "boolean"):
            f[name] = as_numbers(values)
        elif kind == "datetime":
            dates = as_dates(values)
            f[f"{name}_age_days"] = (posts["posted_at"] - dates).dt.total_seconds() / DAY
            f[f"{name}_year"] = dates.dt.year
            f[f"{name}_month"] = dates.dt.month
            f[f"{name}_weekday"] = dates.dt.day_of_week
            f[f"{name}_hour"] = dates.dt.hour
        elif kind in ("category", "high_category"):
            keys = _keys(values)
            f[f"{name}_freq"] = np.log1p(np.nan_to_num(lookup(self.counts_[col], keys)))
            if kind == "category":
                f[f"{name}__cat"] = encode_codes(keys, self.codes_[col])
            else:
                f.update(self._label_stats(posts, col, keys).add_prefix(f"{name}_label_"))
        elif kind == "list":
            f[f"{name}_items"] = as_items(values).str.split().str.len()
            f.update(self._item_stats(posts, col).add_prefix(f"{name}_"))
        elif kind == "text":
            text = column_text(posts, col, kind)
            f[f"{name}_chars"] = text.str.len()
            f[f"{name}_words"] = text.str.split().str.len()
        return pd.DataFrame(f, index=posts.index)

    def _label_stats(self, posts: pd.DataFrame, col: str, keys: pd.Series) -> pd.DataFrame:
        stats = self.history_[col].stats(posts["post_id"], keys.to_numpy(), utc_seconds(posts["posted_at"]),
                                         self.params["shrink"])
        return stats[list(TARGET_STATS)]

    def _item_stats(self, posts: pd.DataFrame, col: str) -> pd.DataFrame:
        """A list's items (hashtags) read one by one, as a high-cardinality value is, then
        summarised per post: the mean log frequency of its items and the mean and best of
        their shrunk earlier-label means."""
        items = _items(posts[col])
        rows = items.index
        keys = pd.Series(items.to_numpy(), index=np.arange(len(items)))
        exploded = posts.loc[rows, ["post_id", "posted_at"]].set_axis(keys.index)
        stats = self._label_stats(exploded, col, keys)
        freq = np.log1p(np.nan_to_num(lookup(self.counts_[col], keys)))
        per_item = pd.DataFrame({"row": rows, "freq": freq, "mean": stats["mean_shrunk"].to_numpy(float)})
        by_post = per_item.groupby("row").agg(item_freq=("freq", "mean"), item_label_mean=("mean", "mean"),
                                              item_label_best=("mean", "max"))
        return by_post.reindex(posts.index)

    def kinds(self) -> dict[str, str]:
        """Each extra column's kind, as fitted."""
        return dict(self.types_)


def _items(values: pd.Series) -> pd.Series:
    """Each item of a list column, one row each, indexed by its post's row."""
    items = as_items(values).str.split().explode()
    return items[items.notna() & (items != "")].astype(str)


def _keys(values: pd.Series) -> pd.Series:
    """Category values as strings, missing ones as one value of their own."""
    return values.astype("string").str.strip().fillna("<missing>").replace("", "<missing>")
