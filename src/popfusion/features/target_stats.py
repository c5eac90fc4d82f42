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

from popfusion.features.base import DAY, positions

STATS = ("mean", "median", "std", "count", "last", "recent_mean", "decayed_mean", "slope_per_year",
         "mean_shrunk", "seen", "age_days")
DECAY_DAYS = 90.0  # the time constant of ``decayed_mean``: a label that old weighs 1/e of a new one


def cutoffs(post_ids: pd.Series, t: np.ndarray, history_ids: pd.Index) -> np.ndarray:
    """Each post's cut-off in seconds: its own time if it is in the history (distinct
    ids, whose hash table the index builds once), else +inf."""
    return np.where(positions(history_ids, post_ids) >= 0, t, np.inf)


class LabelHistory:
    """Training labels by key (``history``: post_id, key, t seconds, label), with each
    key's running statistics computed once when fitted, so that scoring any number of
    posts (a test set, or one post in a service) is a lookup, not a pass over every label."""

    def __init__(self, history: pd.DataFrame, window: int = 5) -> None:
        h = history.sort_values(["key", "t"], kind="stable", ignore_index=True)
        key = h["key"].to_numpy()
        start = np.maximum.accumulate(np.where(np.r_[True, key[1:] != key[:-1]], np.arange(len(h)), 0)) \
            if len(h) else np.zeros(0, int)
        self.t = h["t"].to_numpy("float64")
        self.ids = pd.Index(pd.unique(h["post_id"]))
        self.keys = pd.Index(pd.unique(key))  # keys as integer codes, so any dtype matches
        inclusive = _expanding_stats(h["label"].to_numpy("float64"), self.t, key, start, window)
        self.columns = list(inclusive.columns)
        self._index(self.keys.get_indexer(key))
        self.inclusive = np.vstack([inclusive.to_numpy("float64"), np.full((1, inclusive.shape[1]), np.nan)])
        order = np.argsort(self.t, kind="stable")
        self.t_sorted = self.t[order]
        self.label_cumsum = np.r_[0.0, np.cumsum(h["label"].to_numpy("float64")[order])]

    def _index(self, row_key: np.ndarray) -> None:
        """Rows in (key, time) order as exact integers, key code * span + the time's rank,
        so that one binary search finds a key's last row before any cut-off: a service
        scores one post in microseconds, where a merge over every row took milliseconds."""
        self.times = np.unique(self.t)
        self.span = len(self.times) + 1
        self.row_key = row_key
        self.position = row_key * self.span + np.searchsorted(self.times, self.t)

    def __setstate__(self, state: dict) -> None:
        """Histories saved before positions existed (runs of earlier versions) get them."""
        self.__dict__.update(state)
        if "position" not in state:
            self._index(state["right"].sort_values("row")["key"].to_numpy())
            del self.right

    def stats(self, post_ids: pd.Series, keys: np.ndarray, t: np.ndarray, shrink: float = 3.0) -> pd.DataFrame:
        """Float32 columns ``STATS`` for posts (ids, keys, times in seconds, indexed like
        ``post_ids``), each from the history rows of its key before its cut-off."""
        cutoff = cutoffs(post_ids, t, self.ids)
        codes = positions(self.keys, keys) if len(self.keys) else np.full(len(keys), -1)
        before = codes * self.span + np.searchsorted(self.times, cutoff, side="left")  # times < cut-off
        last = np.searchsorted(self.position, before, side="left") - 1  # the key's last such row
        found = (codes >= 0) & (last >= 0) & (self.row_key[np.maximum(last, 0)] == codes)
        row = np.where(found, last, -1)  # -1: no earlier label, which picks the NaN row at the end
        stats = dict(zip(self.columns, self.inclusive[row].T, strict=True))
        count = np.nan_to_num(stats["count"])
        k = np.searchsorted(self.t_sorted, cutoff, side="left")
        with np.errstate(invalid="ignore", divide="ignore"):
            prior = np.where(k > 0, self.label_cumsum[k] / np.maximum(k, 1), np.nan)  # mean label before
        stats |= {"count": count, "age_days": (np.asarray(t, "float64") - np.r_[self.t, np.nan][row]) / DAY,
                  "mean_shrunk": (np.nan_to_num(stats["mean"]) * count + shrink * prior) / (count + shrink),
                  "seen": (count > 0).astype(float)}
        return pd.DataFrame(np.column_stack([stats[c] for c in STATS]).astype(np.float32),
                            index=post_ids.index, columns=list(STATS))


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


def previous_mean(values: np.ndarray, start: np.ndarray, k: int, inclusive: bool = False) -> np.ndarray:
    """Mean of the ``k`` values before each position (or up to and including it) within
    its group, groups being runs that begin at ``start``; NaN where there are none."""
    csum = np.r_[0.0, np.cumsum(np.nan_to_num(values))]
    end = np.arange(len(values)) + (1 if inclusive else 0)
    begin = np.maximum(start, end - k)
    n = end - begin
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (csum[end] - csum[begin]) / np.maximum(n, 1), np.nan)
