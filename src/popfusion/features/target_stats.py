"""Label statistics that never look ahead: the shared core of every block that reads labels.

For a group key (a user, a cluster, ...), each post gets statistics of the training labels
with the same key published strictly before its *cut-off*: a training post's cut-off is its
own time (never itself, never a post at the same second or later), any other post's is the
end of time (every training label of its key). ``age_days`` says how old the newest of
those labels is: a test post weeks after the last training label sees an older history
than any training post, and the models can learn how far to trust it.

(Drawing training cut-offs as far back as test posts lie after the last training label
was tried on the real SMPD sample: SRC fell from 0.558 to 0.476, because most training
posts then had no history at all; see BENCHMARKS.md.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from popfusion.features.base import DAY

STATS = ("mean", "median", "std", "count", "last", "recent_mean", "decayed_mean", "slope_per_year",
         "mean_shrunk", "seen", "age_days")
DECAY_DAYS = 90.0  # the time constant of ``decayed_mean``: a label that old weighs 1/e of a new one


def cutoffs(post_ids: pd.Series, t: np.ndarray, history_ids: pd.Series) -> np.ndarray:
    """Each post's cut-off in seconds: its own time if it is in the history, else +inf."""
    return np.where(post_ids.isin(history_ids).to_numpy(), t, np.inf)


def earlier_label_stats(history: pd.DataFrame, queries: pd.DataFrame, window: int = 5,
                        shrink: float = 3.0) -> pd.DataFrame:
    """``history``: training posts (key, t seconds, label); ``queries``: posts (key, t,
    cutoff seconds). Returns float32 columns ``STATS`` indexed like ``queries``, from the
    history rows of the query's key with t < cutoff."""
    h = history.sort_values(["key", "t"], kind="stable", ignore_index=True)
    key = h["key"].to_numpy()
    start = np.maximum.accumulate(np.where(np.r_[True, key[1:] != key[:-1]], np.arange(len(h)), 0)) \
        if len(h) else np.zeros(0, int)
    inclusive = _expanding_stats(h["label"].to_numpy("float64"), h["t"].to_numpy("float64"), key, start, window)
    # the last history row of the query's key strictly before its cut-off; keys as shared
    # integer codes, so string and integer keys of any dtype match
    codes, _ = pd.factorize(np.concatenate([key, queries["key"].to_numpy()]))
    right = pd.DataFrame({"key": codes[: len(h)], "cutoff": h["t"].to_numpy("float64"),
                          "row": np.arange(len(h))})
    left = pd.DataFrame({"key": codes[len(h):], "cutoff": queries["cutoff"].to_numpy("float64"),
                         "query": np.arange(len(queries))})
    found = pd.merge_asof(left.sort_values("cutoff", kind="stable"), right.sort_values("cutoff", kind="stable"),
                          on="cutoff", by="key", allow_exact_matches=False)
    row = np.full(len(queries), -1)  # -1: no earlier label, which picks the NaN row appended below
    row[found["query"].to_numpy()] = found["row"].fillna(-1).to_numpy(int)
    padded = np.vstack([inclusive.to_numpy("float64"), np.full((1, inclusive.shape[1]), np.nan)])
    stats = pd.DataFrame(padded[row], index=queries.index, columns=inclusive.columns)
    stats["count"] = stats["count"].fillna(0.0)
    last_t = np.r_[h["t"].to_numpy("float64"), np.nan][row]
    stats["age_days"] = (queries["t"].to_numpy("float64") - last_t) / DAY
    prior = _global_mean_before(h, queries["cutoff"].to_numpy("float64"))
    total = stats["mean"].fillna(0) * stats["count"]
    stats["mean_shrunk"] = (total + shrink * prior) / (stats["count"] + shrink)
    stats["seen"] = (stats["count"] > 0).astype(float)
    return stats[list(STATS)].astype("float32")


def _expanding_stats(y: np.ndarray, t: np.ndarray, key: np.ndarray, start: np.ndarray,
                     window: int) -> pd.DataFrame:
    """Statistics of each key's labels up to and including each row (rows sorted by key,
    time ``t`` in seconds). ``decayed_mean`` weighs each label by exp(age / DECAY_DAYS),
    so a user whose audience grows or fades is read at their recent level;
    ``slope_per_year`` is the least-squares trend of the labels over time (3 labels or more)."""
    groups = pd.Series(y).groupby(key, sort=False)
    count = groups.cumcount().to_numpy() + 1.0
    total = groups.cumsum().to_numpy()
    squares = pd.Series(y**2).groupby(key, sort=False).cumsum().to_numpy()
    mean = total / count
    var = np.maximum(squares / count - mean**2, 0) * count / np.maximum(count - 1, 1)
    median = groups.expanding().median().reset_index(level=0, drop=True).sort_index().to_numpy()
    years = (t - t[start]) / (365.25 * DAY) if len(t) else t  # from the key's first label
    weight = np.exp(np.minimum(years * 365.25 / DECAY_DAYS, 600.0))
    su, suu, sy, suy, sw, swy = (pd.Series(v).groupby(key, sort=False).cumsum().to_numpy()
                                 for v in (years, years**2, y, years * y, weight, weight * y))
    spread = count * suu - su**2
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where((count >= 3) & (spread > 1e-12 * count**2), (count * suy - su * sy) / spread, np.nan)
    return pd.DataFrame({
        "mean": mean, "median": median, "std": np.where(count > 1, np.sqrt(var), np.nan),
        "count": count, "last": y, "recent_mean": previous_mean(y, start, window, inclusive=True),
        "decayed_mean": swy / sw, "slope_per_year": slope,
    })


def _global_mean_before(history: pd.DataFrame, cutoff: np.ndarray) -> np.ndarray:
    """The mean of all training labels strictly before each cut-off."""
    order = np.argsort(history["t"].to_numpy(), kind="stable")
    t_sorted = history["t"].to_numpy()[order]
    cumsum = np.r_[0.0, np.cumsum(history["label"].to_numpy("float64")[order])]
    k = np.searchsorted(t_sorted, cutoff, side="left")
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
