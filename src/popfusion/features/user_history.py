"""User history: what the author did before this post, the strongest signal in SMPD.

Activity features (posts per user over train and test, rank in the user's timeline,
gaps to the previous and next post) read no labels. Target statistics (mean, median,
std, count and a shrunk mean of the user's earlier labels) are strictly time-respecting:
a training post sees only training posts of its user published strictly before it (never
itself, never a post at the same second or later); any other post sees all training
labels of its user.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from popfusion.features.base import FeatureBlock

_DAY = 86400.0


class UserHistory(FeatureBlock):
    """Per-user activity and time-respecting label statistics.

    ``shrink`` is the prior weight (in posts) that pulls a user's mean towards the
    global training mean, so a user with one earlier post is not taken at face value.
    ``window`` is how many previous posts the sliding means cover (labels and content).
    """

    name = "user"
    uses_labels = True

    def __init__(self, shrink: float = 3.0, window: int = 5) -> None:
        super().__init__(shrink=shrink, window=window)

    def fit(self, posts: pd.DataFrame) -> UserHistory:
        train = posts[_labelled(posts)]
        self.history_ = pd.DataFrame({
            "post_id": train["post_id"].to_numpy(),
            "user_id": train["user_id"].to_numpy(),
            "t": _seconds(train["posted_at"]),
            "label": train["label"].to_numpy("float64"),
        })
        self.activity_ = _content(posts)
        return self

    def transform(self, posts: pd.DataFrame) -> pd.DataFrame:
        out = pd.concat([self._activity(posts), self._targets(posts)], axis=1)
        return out.add_prefix(f"{self.name}_")

    # -- activity, from every post seen in fit and transform ---------------------------------

    def _activity(self, posts: pd.DataFrame) -> pd.DataFrame:
        both = pd.concat([self.activity_, _content(posts)])
        both = both.drop_duplicates("post_id").sort_values(["user_id", "posted_at", "post_id"])
        t = _seconds(both["posted_at"])
        user = both["user_id"].to_numpy()
        first = np.r_[True, user[1:] != user[:-1]]
        last = np.r_[user[1:] != user[:-1], True]
        gap_prev = np.where(first, np.nan, np.diff(t, prepend=np.nan)) / _DAY
        gap_next = np.where(last, np.nan, -np.diff(t[::-1], prepend=np.nan)[::-1]) / _DAY
        group_start = np.maximum.accumulate(np.where(first, np.arange(len(t)), 0))
        counts = both.groupby("user_id")["post_id"].transform("size").to_numpy()
        k = self.params["window"]
        sliding = {f"prev{k}_{c}": _previous_mean(both[c].to_numpy("float64"), group_start, k)
                   for c in _CONTENT}
        feats = pd.DataFrame({
            "posts": counts.astype("float32"),
            "rank": (np.arange(len(t)) - group_start).astype("float32"),
            "rank_share": ((np.arange(len(t)) - group_start) / np.maximum(counts - 1, 1)).astype("float32"),
            "days_since_prev": gap_prev.astype("float32"),
            "days_to_next": gap_next.astype("float32"),
            "active_days": ((t - t[group_start]) / _DAY).astype("float32"),
            **{name: v.astype("float32") for name, v in sliding.items()},
        }, index=both["post_id"].to_numpy())
        return feats.loc[posts["post_id"].to_numpy()].set_axis(posts.index)

    # -- label statistics, strictly earlier in time ------------------------------------------

    def _targets(self, posts: pd.DataFrame) -> pd.DataFrame:
        h = self.history_.sort_values(["user_id", "t", "post_id"], ignore_index=True)
        user, t = h["user_id"].to_numpy(), h["t"].to_numpy()
        n = len(h)
        new_user = np.r_[True, user[1:] != user[:-1]] if n else np.zeros(0, bool)
        # a tie group is the posts of one user at one second: none of them sees another
        new_tie = new_user | np.r_[True, t[1:] != t[:-1]] if n else new_user
        start = np.maximum.accumulate(np.where(new_user, np.arange(n), 0)) if n else new_user
        tie_start = np.maximum.accumulate(np.where(new_tie, np.arange(n), 0)) if n else new_user
        inclusive = _expanding_stats(h, self.params["window"])  # the user's posts up to i
        # before position i: the inclusive stats at tie_start - 1 if that is the same user
        prev = tie_start - 1
        has_prev = (prev >= start) if n else new_user
        before = inclusive.iloc[np.where(has_prev, prev, 0)].reset_index(drop=True)
        before[~has_prev] = np.nan
        before.loc[~has_prev, "count"] = 0.0
        before.index = h["post_id"].to_numpy()
        # posts not in the training history see all of their user's training labels
        last = pd.Series(np.arange(n), index=user).groupby(level=0).max()
        everything = inclusive.iloc[last.to_numpy()].set_axis(last.index)
        in_history = posts["post_id"].isin(before.index).to_numpy()
        stats = pd.DataFrame(np.nan, index=posts.index, columns=inclusive.columns)
        stats.loc[in_history] = before.loc[posts["post_id"][in_history].to_numpy()].to_numpy()
        others = posts.loc[~in_history, "user_id"]
        stats.loc[~in_history] = everything.reindex(others.to_numpy()).to_numpy()
        stats["count"] = stats["count"].fillna(0.0)
        k = self.params["shrink"]
        prior = self._global_mean_before(posts, in_history)
        stats["mean_shrunk"] = (stats["mean"].fillna(0) * stats["count"] + k * prior) / (stats["count"] + k)
        stats["seen"] = (stats["count"] > 0).astype("float32")
        return stats.add_prefix("label_").astype("float32")


    def _global_mean_before(self, posts: pd.DataFrame, in_history: np.ndarray) -> np.ndarray:
        """The mean of all training labels strictly before each training post (the prior
        a user's mean is shrunk towards); all of them for any other post."""
        order = np.argsort(self.history_["t"].to_numpy(), kind="stable")
        t_sorted = self.history_["t"].to_numpy()[order]
        cumsum = np.r_[0.0, np.cumsum(self.history_["label"].to_numpy()[order])]
        k = np.where(in_history, np.searchsorted(t_sorted, _seconds(posts["posted_at"]), side="left"),
                     len(t_sorted))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(k > 0, cumsum[k] / k, np.nan)


def _expanding_stats(h: pd.DataFrame, window: int) -> pd.DataFrame:
    """Mean, median, std, count, last label and mean of the last ``window`` labels of each
    user's labels up to and including each row (``h`` sorted by user and time)."""
    g = h.groupby("user_id", sort=False)["label"]
    count = g.cumcount().to_numpy() + 1.0
    total = g.cumsum().to_numpy()
    squares = (h["label"] ** 2).groupby(h["user_id"], sort=False).cumsum().to_numpy()
    mean = total / count
    var = np.maximum(squares / count - mean**2, 0) * count / np.maximum(count - 1, 1)
    median = g.expanding().median().reset_index(level=0, drop=True).sort_index().to_numpy()
    first = np.r_[True, h["user_id"].to_numpy()[1:] != h["user_id"].to_numpy()[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(len(h)), 0))
    recent = _previous_mean(h["label"].to_numpy(), start, window, inclusive=True)
    return pd.DataFrame({"mean": mean, "median": median, "std": np.where(count > 1, np.sqrt(var), np.nan),
                         "count": count, "last": h["label"].to_numpy(), f"last{window}_mean": recent})


_CONTENT = ("tags", "title_words", "has_geo", "hour")


def _content(posts: pd.DataFrame) -> pd.DataFrame:
    """The few per-post content values whose recent averages describe a user's habits."""
    n = len(posts)
    tags = posts["tags"].fillna("").str.split().str.len() if "tags" in posts else np.zeros(n)
    words = posts["title"].fillna("").str.split().str.len() if "title" in posts else np.zeros(n)
    geo = posts["latitude"].notna() if "latitude" in posts else np.zeros(n)
    return pd.DataFrame({
        "post_id": posts["post_id"].to_numpy(), "user_id": posts["user_id"].to_numpy(),
        "posted_at": posts["posted_at"].to_numpy(), "tags": np.asarray(tags, "float64"),
        "title_words": np.asarray(words, "float64"), "has_geo": np.asarray(geo, "float64"),
        "hour": posts["posted_at"].dt.hour.to_numpy("float64"),
    })


def _previous_mean(values: np.ndarray, start: np.ndarray, k: int, inclusive: bool = False) -> np.ndarray:
    """Mean of the ``k`` values before each position (or up to and including it) within
    its group, groups being runs that begin at ``start``; NaN where there are none."""
    csum = np.r_[0.0, np.cumsum(np.nan_to_num(values))]
    end = np.arange(len(values)) + (1 if inclusive else 0)
    begin = np.maximum(start, end - k)
    n = end - begin
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (csum[end] - csum[begin]) / n, np.nan)


def _labelled(posts: pd.DataFrame) -> np.ndarray:
    has_label = posts["label"].notna() if "label" in posts else pd.Series(False, index=posts.index)
    if "split" in posts:
        has_label &= posts["split"] == "train"
    return has_label.to_numpy(bool)


def _seconds(times: pd.Series) -> np.ndarray:
    """UTC timestamps as float seconds, whatever the resolution of their dtype."""
    return times.dt.as_unit("ns").astype("int64").to_numpy() / 1e9
