"""How different the posts to predict are from the training posts (adversarial
validation). A classifier learns to tell training posts from test posts on a recipe's
label-free features; out of fold, its AUC says how far apart the two are (0.5: no
classifier can tell them apart), the features it leans on say where they differ, and
the training posts it most takes for test posts are the ones most like them.

Posting-time features are left out: in a chronological split they tell the two apart by
construction, which says nothing about the posts themselves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from popfusion.compute import threads
from popfusion.features.pipeline import applicable, build_features, make_block
from popfusion.names import family, human
from popfusion.recipe import Recipe

log = logging.getLogger(__name__)


@dataclass
class Adversarial:
    """``auc``: out of fold, of telling test from training posts; ``importance``: each
    feature's share of the classifier's gain; ``test_likeness``: each training post's
    out-of-fold probability of being a test post, by post id."""

    auc: float
    importance: pd.Series
    test_likeness: pd.Series
    features: int

    def summary(self, top: int = 10) -> dict:
        likeness = self.test_likeness.sort_values(ascending=False, kind="stable")
        return {
            "auc": round(self.auc, 4),
            "features": self.features,
            "verdict": verdict(self.auc),
            "top_features": [{"feature": human(c), "column": c, "family": family(c),
                              "gain_share": round(float(v), 4)} for c, v in self.importance.head(top).items()],
            "train_posts_like_test": round(float((self.test_likeness > 0.5).mean()), 4),
            "most_test_like": [{"post_id": str(p), "p_test": round(float(v), 4)}
                               for p, v in likeness.head(top).items()],
        }


def likeness_weights(likeness: pd.Series, cap: float = 10.0) -> pd.Series:
    """Training weights from test-likeness: the odds p / (1 - p), the density ratio of
    test to training posts that importance weighting calls for, clipped to
    [1 / ``cap``, ``cap``] so that a few posts cannot carry a fit, and scaled to mean 1."""
    p = likeness.clip(1e-6, 1 - 1e-6)
    odds = (p / (1 - p)).clip(1 / cap, cap)
    return odds / odds.mean()


def verdict(auc: float) -> str:
    """What an AUC means for a model trained on one and scored on the other."""
    if auc < 0.6:
        return "alike: the training posts stand for the test posts"
    if auc < 0.75:
        return "somewhat different: expect hold-out scores to be a little optimistic"
    return "clearly different: hold-out scores may not carry over; look at the features that separate them"


def adversarial(posts: pd.DataFrame, recipe: Recipe, cache_dir: str | Path, folds: int = 5,
                seed: int = 0) -> Adversarial:
    """Tell the posts to predict (split ``test``) from the training posts on ``recipe``'s
    label-free features, out of ``folds`` folds."""
    from lightgbm import LGBMClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    blocks = [make_block(b.block, b.params) for b in recipe.features]
    blocks = applicable(posts, [b for b in blocks if not b.uses_labels])
    frame, _ = build_features(posts, blocks, cache_dir)
    frame = frame[[c for c in frame.columns if family(c) != "time" and not c.startswith("meta_days_since")]]
    y = (posts["split"] == "test").to_numpy(int)
    if y.min() == y.max():
        raise ValueError("adversarial validation needs both training and test posts (split train and test)")
    prob = np.zeros(len(frame))
    gain = np.zeros(frame.shape[1])
    for fit_rows, held in StratifiedKFold(folds, shuffle=True, random_state=seed).split(frame, y):
        clf = LGBMClassifier(n_estimators=200, learning_rate=0.05, num_leaves=31, subsample=0.8,
                             subsample_freq=1, colsample_bytree=0.8, random_state=seed, n_jobs=threads(),
                             verbose=-1)
        clf.fit(frame.iloc[fit_rows], y[fit_rows])
        prob[held] = clf.predict_proba(frame.iloc[held])[:, 1]
        gain += clf.booster_.feature_importance("gain")
    importance = pd.Series(gain / max(gain.sum(), 1e-12), index=frame.columns).sort_values(ascending=False)
    train = y == 0
    likeness = pd.Series(prob[train], index=posts.loc[train, "post_id"].to_numpy())
    auc = float(roc_auc_score(y, prob))
    log.info("adversarial validation: AUC %.3f on %d features (%s)", auc, frame.shape[1], verdict(auc))
    return Adversarial(auc, importance, likeness, frame.shape[1])
