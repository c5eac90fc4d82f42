"""Label statistics that never look ahead: the shared core of every block that reads labels.

For a group key (a user, a cluster, ...), each training post gets statistics of the labels
of training posts with the same key published strictly before it (never itself, never a
post at the same second or later); any other post gets the statistics of all training
labels of its key. The prior a mean is shrunk towards is, likewise, the mean of all
training labels strictly before the post.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

STATS = ("mean", "median", "std", "count", "last", "recent_mean", "mean_shrunk", "seen")


def earlier_label_stats(history: pd.DataFrame, queries: pd.DataFrame, window: int = 5,
                        shrink: float = 3.0) -> pd.DataFrame:
    """``history``: training posts (post_id, key, t seconds, label); ``queries``: posts
    (post_id, key, t). Returns float32 columns ``STATS`` indexed like ``queries``."""
    h = history.sort_values(["key", "t", "post_id"], ignore_index=True)
    key, t = h["key"].to_numpy(), h["t"].to_numpy()
    n = len(h)
    new_key = np.r_[True, key[1:] != key[:-1]] if n else np.zeros(0, bool)
    new_tie = new_key | (np.r_[True, t[1:] != t[:-1]] if n else new_key)  # same key, same second
    start = np.maximum.accumulate(np.where(new_key, np.arange(n), 0)) if n else np.zeros(0, int)
    tie_start = np.maximum.accumulate(np.where(new_tie, np.arange(n), 0)) if n else np.zeros(0, int)
    inclusive = _expanding_stats(h["label"].to_numpy("float64"), key, start, window)
    # strictly before position i: the inclusive stats at tie_start - 1, if the same key
    prev = tie_start - 1
    has_prev = prev >= start
    before = inclusive.iloc[np.where(has_prev, prev, 0)].to_numpy().copy()
    before[~has_prev] = np.nan
    before = pd.DataFrame(before, index=h["post_id"].to_numpy(), columns=inclusive.columns)
    last = pd.Series(np.arange(n), index=key).groupby(level=0).max()
    everything = inclusive.iloc[last.to_numpy()].set_axis(last.index)

    in_history = queries["post_id"].isin(before.index).to_numpy()
    stats = pd.DataFrame(np.nan, index=queries.index, columns=inclusive.columns)
    stats.loc[in_history] = before.loc[queries["post_id"][in_history].to_numpy()].to_numpy()
    stats.loc[~in_history] = everything.reindex(queries.loc[~in_history, "key"].to_numpy()).to_numpy()
    stats["count"] = stats["count"].fillna(0.0)
    prior = _global_mean_before(history, queries, in_history)
    total = stats["mean"].fillna(0) * stats["count"]
    stats["mean_shrunk"] = (total + shrink * prior) / (stats["count"] + shrink)
    stats["seen"] = (stats["count"] > 0).astype(float)
    return stats[list(STATS)].astype("float32")


def _expanding_stats(y: np.ndarray, key: np.ndarray, start: np.ndarray, window: int) -> pd.DataFrame:
    """Statistics of each key's labels up to and including each row (rows sorted by key, time)."""
    groups = pd.Series(y).groupby(key, sort=False)
    count = groups.cumcount().to_numpy() + 1.0
    total = groups.cumsum().to_numpy()
    squares = pd.Series(y**2).groupby(key, sort=False).cumsum().to_numpy()
    mean = total / count
    var = np.maximum(squares / count - mean**2, 0) * count / np.maximum(count - 1, 1)
    median = groups.expanding().median().reset_index(level=0, drop=True).sort_index().to_numpy()
    return pd.DataFrame({
        "mean": mean, "median": median, "std": np.where(count > 1, np.sqrt(var), np.nan),
        "count": count, "last": y, "recent_mean": previous_mean(y, start, window, inclusive=True),
    })


def _global_mean_before(history: pd.DataFrame, queries: pd.DataFrame, in_history: np.ndarray) -> np.ndarray:
    t_sorted = np.sort(history["t"].to_numpy())
    labels = history["label"].to_numpy("float64")[np.argsort(history["t"].to_numpy(), kind="stable")]
    cumsum = np.r_[0.0, np.cumsum(labels)]
    k = np.where(in_history, np.searchsorted(t_sorted, queries["t"].to_numpy(), side="left"), len(t_sorted))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(k > 0, cumsum[k] / np.maximum(k, 1), np.nan)


def previous_mean(values: np.ndarray, start: np.ndarray, k: int, inclusive: bool = False) -> np.ndarray:
    """Mean of the ``k`` values before each position (or up to and including it) within
    its group, groups being runs that begin at ``start``; NaN where there are none."""
    csum = np.r_[0.0, np.cumsum(np.nan_to_num(values))]
    end = np.arange(len(values)) + (1 if inclusive else 0)
    begin = np.maximum(start, end - k)
    n = end - begin
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (csum[end] - csum[begin]) / np.maximum(n, 1), np.nan)
