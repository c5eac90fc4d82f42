"""Blenders: they learn on out-of-fold predictions (never on rows a model was fitted on,
never on test labels) how to combine several models' predictions into one.

- ``weights``: greedy ensemble selection with replacement (Caruana et al.) that maximises
  SRC, with MAE as the tie-break (or a chosen mix), then a linear calibration so the
  blend is on the label's scale;
- ``rank``: the mean of the models' standardised predictions, calibrated the same way;
- ``ridge`` / ``catboost``: a stacking model on the predictions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

METHODS = ("weights", "rank", "ridge", "catboost")


class Blender:
    def __init__(self, method: str = "weights", mae_weight: float = 0.01, steps: int = 40) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown fusion method {method!r}: {', '.join(METHODS)}")
        self.method, self.mae_weight, self.steps = method, mae_weight, steps

    def fit(self, preds: pd.DataFrame, y: np.ndarray) -> Blender:
        """``preds``: one column a model, out-of-fold rows only; ``y`` their labels."""
        y = np.asarray(y, float)
        self.columns_ = list(preds.columns)
        self.mean_, self.sd_ = preds.mean().to_numpy(), preds.std().to_numpy() + 1e-9
        P = preds.to_numpy(float)
        if self.method == "weights":
            self.weights_ = self._select(P, y)
        elif self.method == "rank":
            self.weights_ = np.full(P.shape[1], 1 / P.shape[1])
        elif self.method == "ridge":
            from sklearn.linear_model import RidgeCV

            self.stacker_ = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(P, y)
            self.weights_ = self.stacker_.coef_ / max(np.abs(self.stacker_.coef_).sum(), 1e-12)
        else:
            from catboost import CatBoostRegressor

            self.stacker_ = CatBoostRegressor(iterations=300, depth=3, verbose=False, random_seed=0,
                                              allow_writing_files=False).fit(P, y)
            self.weights_ = self.stacker_.get_feature_importance() / 100
        if self.method in ("weights", "rank"):
            z = self._combine(P)
            self.slope_, self.intercept_ = np.polyfit(z, y, 1) if np.ptp(z) > 0 else (0.0, y.mean())
        return self

    def _combine(self, P: np.ndarray) -> np.ndarray:
        return ((P - self.mean_) / self.sd_) @ self.weights_

    def predict(self, preds: pd.DataFrame) -> np.ndarray:
        P = preds[self.columns_].to_numpy(float)
        if self.method in ("ridge", "catboost"):
            return self.stacker_.predict(P)
        return self.intercept_ + self.slope_ * self._combine(P)

    def _select(self, P: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Add, one step at a time, the model whose inclusion most improves the objective."""
        Z = (P - self.mean_) / self.sd_
        y_rank = rankdata(y)
        counts = np.zeros(P.shape[1])
        best_score = -np.inf
        for _ in range(self.steps):
            scores = [self._objective(Z @ _normalised(counts + np.eye(P.shape[1])[j]), y, y_rank)
                      for j in range(P.shape[1])]
            j = int(np.argmax(scores))
            if scores[j] <= best_score + 1e-7 and counts.sum() > 0:
                break
            counts[j] += 1
            best_score = scores[j]
        return _normalised(counts)

    def _objective(self, z: np.ndarray, y: np.ndarray, y_rank: np.ndarray) -> float:
        src = np.corrcoef(rankdata(z), y_rank)[0, 1]
        slope, intercept = np.polyfit(z, y, 1)
        mae = np.abs(y - (intercept + slope * z)).mean()
        return src - self.mae_weight * mae

    def describe(self) -> dict[str, float]:
        return {c: round(float(w), 4) for c, w in zip(self.columns_, self.weights_, strict=True)}


def _normalised(w: np.ndarray) -> np.ndarray:
    return w / w.sum()
