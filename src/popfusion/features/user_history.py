"""User history: what the author did before this post, the strongest signal in SMPD.

Activity features (posts per user over train and test, rank in the user's timeline,
gaps to the previous and next post; those that look ahead can be left out) read no
labels. Target statistics (mean, median, std, count, a shrunk mean of the user's earlier
labels and the age of the newest) are strictly time-respecting: a training post sees
only training posts of its user published strictly before it (never itself, never a
post at the same second or later); any other post sees all training labels of its user.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from popfusion.features.base import DAY, FeatureBlock, labelled_mask, positions, utc_seconds
from popfusion.features.target_stats import LabelHistory, previous_mean

LOOKAHEAD = ("posts", "rank_share", "days_to_next")


class UserHistory(FeatureBlock):
    """Per-user activity and time-respecting label statistics.

    ``shrink`` is the prior weight (in posts) that pulls a user's mean towards the
    global training mean, so a user with one earlier post is not taken at face value.
    ``window`` is how many previous posts the sliding means cover (labels and content).
    ``lookahead`` also describes the user's later posts (``LOOKAHEAD``: their total count,
    this post's place among them, the days to the next one). That is right when every
    post to score is known at once, as SMP's test set is, and wrong for scoring a post
    before it goes out, when its author's later posts do not exist yet: turn it off there.
    On real SMPD these columns carry much of the signal (BENCHMARKS.md, "User history on
    real SMPD").
    """

    name = "user"
    version = 4
    uses_labels = True

    def __init__(self, shrink: float = 3.0, window: int = 5, lookahead: bool = True) -> None:
        super().__init__(shrink=shrink, window=window, lookahead=lookahead)

    def fit(self, posts: pd.DataFrame) -> UserHistory:
        labelled, t = labelled_mask(posts), utc_seconds(posts["posted_at"])
        self.history_ = LabelHistory(pd.DataFrame({
            "post_id": posts["post_id"].to_numpy()[labelled],
            "key": posts["user_id"].to_numpy()[labelled],
            "t": t[labelled],
            "label": posts["label"].to_numpy("float64")[labelled],
        }), self.params["window"])
        self.activity_ = _content(posts)
        self.rows_by_user_ = self.activity_.groupby("user_id", sort=False).indices
        self.users_ = pd.Index(pd.unique(posts["user_id"]), dtype=object)  # a user's code: its place
        return self

    def __setstate__(self, state: dict) -> None:
        """Blocks saved by an earlier version kept the user codes as a dict, in code order."""
        if "user_codes_" in state:
            state = {k: v for k, v in state.items() if k != "user_codes_"} | {
                "users_": pd.Index(list(state["user_codes_"]), dtype=object)}
        super().__setstate__(state)

    def transform(self, posts: pd.DataFrame) -> pd.DataFrame:
        out = pd.concat([self._activity(posts), self._targets(posts)], axis=1)
        out["id__cat"] = positions(self.users_, posts["user_id"]).astype("float32")
        return out.add_prefix(f"{self.name}_")

    # -- activity, from every post seen in fit and transform ---------------------------------

    def _activity(self, posts: pd.DataFrame) -> pd.DataFrame:
        # a post's activity reads its own user's posts only: those of the users asked about
        # (a few rows for one post in a service, not every post seen in fit); in numpy,
        # where pandas' per-call costs were most of a one-post request
        users = pd.unique(posts["user_id"])
        if len(users) < len(self.rows_by_user_):
            known = [self.rows_by_user_[u] for u in users if u in self.rows_by_user_]
            seen = self.activity_.iloc[np.sort(np.concatenate(known))] if known else self.activity_.iloc[:0]
        else:
            seen = self.activity_
        new = _content(posts)
        both = {c: np.concatenate([seen[c].to_numpy(object), new[c].to_numpy(object)])
                for c in ("post_id", "user_id")}
        both |= {c: np.concatenate([seen[c].to_numpy("float64"), new[c].to_numpy("float64")]) for c in _CONTENT}
        both["t"] = np.concatenate([utc_seconds(seen["posted_at"]), utc_seconds(new["posted_at"])])
        keep = np.unique(both["post_id"], return_index=True)[1]  # a post seen in fit keeps that row
        order = keep[np.lexsort((both["post_id"][keep], both["t"][keep], both["user_id"][keep]))]
        t, user, ids = both["t"][order], both["user_id"][order], both["post_id"][order]
        n = len(t)
        starts = np.flatnonzero(np.r_[True, user[1:] != user[:-1]]) if n else np.zeros(0, int)
        sizes = np.diff(np.r_[starts, n])
        group_start, counts = np.repeat(starts, sizes), np.repeat(sizes, sizes)
        ends = group_start + counts - 1
        gap_prev = np.where(np.arange(n) == group_start, np.nan, np.diff(t, prepend=np.nan)) / DAY
        gap_next = np.where(np.arange(n) == ends, np.nan, np.r_[np.diff(t), np.nan]) / DAY
        k = self.params["window"]
        sliding = {f"prev{k}_{c}": previous_mean(both[c][order], group_start, k) for c in _CONTENT}
        feats = pd.DataFrame({
            "posts": counts.astype("float32"),
            "rank": (np.arange(n) - group_start).astype("float32"),
            "rank_share": ((np.arange(n) - group_start) / np.maximum(counts - 1, 1)).astype("float32"),
            "days_since_prev": gap_prev.astype("float32"),
            "days_to_next": gap_next.astype("float32"),
            "active_days": ((t - t[group_start]) / DAY).astype("float32"),
            **{name: v.astype("float32") for name, v in sliding.items()},
        })
        if not self.params["lookahead"]:
            feats = feats.drop(columns=list(LOOKAHEAD))
        return feats.iloc[positions(pd.Index(ids), posts["post_id"])].set_axis(posts.index)

    # -- label statistics, strictly earlier in time ------------------------------------------

    def _targets(self, posts: pd.DataFrame) -> pd.DataFrame:
        t = utc_seconds(posts["posted_at"])
        stats = self.history_.stats(posts["post_id"], posts["user_id"].to_numpy(), t, self.params["shrink"])
        return stats.add_prefix("label_")


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
