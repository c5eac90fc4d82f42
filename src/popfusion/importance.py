"""Permutation importance: what a prediction loses when features are shuffled across
posts, on one scale (rank correlation with the labels) for any model or blend."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from popfusion.names import family, human


def permutation_drop(X: pd.DataFrame, y: np.ndarray, predict: Callable[[pd.DataFrame], np.ndarray],
                     groups: dict[str, list[str]], repeats: int, seed: int) -> pd.DataFrame:
    """Mean SRC drop (and its 2.5-97.5% range over ``repeats``) when each group's columns
    are shuffled together across rows."""
    from scipy.stats import spearmanr

    base = spearmanr(y, predict(X)).statistic
    rng = np.random.default_rng(seed)
    shuffled = X.copy()  # one copy: each group is shuffled in it and put back
    rows = []
    for name, cols in groups.items():
        drops = []
        for _ in range(repeats):
            shuffled[cols] = X[cols].to_numpy()[rng.permutation(len(X))]
            drops.append(base - spearmanr(y, predict(shuffled)).statistic)
        shuffled[cols] = X[cols]
        rows.append({"name": name, "human": human(name) if name in X.columns else name,
                     "family": family(cols[0]), "src_drop": float(np.mean(drops)),
                     "low": float(np.percentile(drops, 2.5)), "high": float(np.percentile(drops, 97.5))})
    return pd.DataFrame(rows).sort_values("src_drop", ascending=False, ignore_index=True)
