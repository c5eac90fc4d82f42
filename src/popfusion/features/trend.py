"""The audience's level over time: how popular the platform's posts were just before each
post, from earlier labels only.

Audiences grow and fade (a platform's reach, a news cycle), and a model that only knows
a post's content reads a busy month and a quiet one alike. Each post gets the mean label
of the last ``k`` training posts published strictly before it (a training post never sees
itself or a post of the same second or later); any other post sees the latest ``k``
training labels, as a test post published after all of them would.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from popfusion.features.base import DAY, FeatureBlock, labelled_mask, utc_seconds
from popfusion.features.target_stats import cutoffs


class AudienceTrend(FeatureBlock):
    """Mean of the ``windows`` latest earlier training labels, their difference (the
    recent rise or fall) and the days since the latest of them."""

    name = "trend"
    uses_labels = True

    def __init__(self, windows: tuple[int, ...] = (100, 1000)) -> None:
        super().__init__(windows=sorted(int(w) for w in windows))

    def fit(self, posts: pd.DataFrame) -> AudienceTrend:
        labelled = labelled_mask(posts)
        t = utc_seconds(posts["posted_at"])[labelled]
        order = np.argsort(t, kind="stable")
        self.t_ = t[order]
        self.cumsum_ = np.r_[0.0, np.cumsum(posts["label"].to_numpy(float)[labelled][order])]
        self.ids_ = pd.Index(pd.unique(posts["post_id"][labelled]))
        return self

    def transform(self, posts: pd.DataFrame) -> pd.DataFrame:
        t = utc_seconds(posts["posted_at"])
        k = np.searchsorted(self.t_, cutoffs(posts["post_id"], t, self.ids_), side="left")
        f = {}
        for w in self.params["windows"]:
            n = np.minimum(k, w)
            with np.errstate(invalid="ignore", divide="ignore"):
                f[f"recent_mean_{w}"] = np.where(n > 0, (self.cumsum_[k] - self.cumsum_[k - n]) / n, np.nan)
        short, long = self.params["windows"][0], self.params["windows"][-1]
        if short != long:
            f["recent_rise"] = f[f"recent_mean_{short}"] - f[f"recent_mean_{long}"]
        padded = np.r_[np.nan, self.t_]  # padded[k]: the latest earlier training time, NaN for none
        latest = padded[k]
        f["days_since_latest"] = (t - latest) / DAY
        return pd.DataFrame(f, index=posts.index).astype("float32").add_prefix(f"{self.name}_")
