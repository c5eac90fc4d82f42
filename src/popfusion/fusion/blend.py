"""Blenders: they learn on out-of-fold predictions (never on rows a model was fitted on,
never on test labels) how to combine several models' predictions into one.

- ``weights``: greedy ensemble selection with replacement (Caruana et al.) that maximises
  SRC, with MAE as the tie-break (or a chosen mix), then a linear calibration so the
  blend is on the label's scale. Given a second, forward-in-time view of the same models
  (their predictions for a later hold-out), it picks the weights whose worse regret over
  the two views (shortfall from that view's best single model) is least: a model earns
  weight only if it helps in both;
- ``rank``: the mean of the models' standardised predictions, calibrated the same way;
- ``ridge`` / ``catboost``: a stacking model on the predictions.

``TieredBlend`` stacks them: one blender per modality group (tier 2), one over those
(final).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from popfusion.fusion.attribution import rescaled

METHODS = ("weights", "rank", "ridge", "catboost")


class Blender:
    def __init__(self, method: str = "weights", mae_weight: float = 0.01, steps: int = 40) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown fusion method {method!r}: {', '.join(METHODS)}")
        self.method, self.mae_weight, self.steps = method, mae_weight, steps

    def fit(self, preds: pd.DataFrame, y: np.ndarray,
            forward: tuple[pd.DataFrame, np.ndarray] | None = None) -> Blender:
        """``preds``: one column a model, out-of-fold rows only; ``y`` their labels.
        ``forward``: the same models' predictions and labels for rows after all of theirs
        (used by ``weights`` only; the calibration stays on ``preds``)."""
        y = np.asarray(y, float)
        self.columns_ = list(preds.columns)
        self.mean_, self.sd_ = preds.mean().to_numpy(), preds.std().to_numpy() + 1e-9
        P = preds.to_numpy(float)
        if self.method == "weights":
            views = [(P, y)] if forward is None else \
                [(P, y), (forward[0][self.columns_].to_numpy(float), np.asarray(forward[1], float))]
            self.weights_ = self._select(views)
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

    def attribute(self, preds: pd.DataFrame, bases: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Each input's share of the blend's output for every row, and the base the shares
        add to (their sum plus the base is ``predict(preds)``). A linear blend credits
        input j with its coefficient times its distance from its own base (``bases``), so
        the base is the blend of the inputs' bases; the CatBoost stacker gives its own
        SHAP values."""
        P = preds[self.columns_].to_numpy(float)
        if self.method == "catboost":
            from catboost import Pool

            values = self.stacker_.get_feature_importance(Pool(P), type="ShapValues")
            return values[:, :-1], values[:, -1]
        if self.method == "ridge":
            coef, intercept = np.asarray(self.stacker_.coef_, float), float(self.stacker_.intercept_)
        else:
            coef = self.slope_ * self.weights_ / self.sd_
            intercept = self.intercept_ - coef @ self.mean_
        B = bases[self.columns_].to_numpy(float)
        return (P - B) * coef, intercept + B @ coef

    def _select(self, views: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Add, one step at a time, the model whose inclusion most lowers the worst regret
        over the views; with one view, that is the model that most raises the objective."""
        views = [((P - self.mean_) / self.sd_, y, rankdata(y)) for P, y in views]
        k = views[0][0].shape[1]
        best_single = [max(self._objective(Z[:, j], y, r) for j in range(k)) for Z, y, r in views]
        counts = np.zeros(k)
        least = np.inf
        for _ in range(self.steps):
            regrets = [max(b - self._objective(Z @ _normalised(counts + np.eye(k)[j]), y, r)
                           for (Z, y, r), b in zip(views, best_single, strict=True)) for j in range(k)]
            j = int(np.argmin(regrets))
            if regrets[j] >= least - 1e-7 and counts.sum() > 0:
                break
            counts[j] += 1
            least = regrets[j]
        return _normalised(counts)

    def _objective(self, z: np.ndarray, y: np.ndarray, y_rank: np.ndarray) -> float:
        src = np.corrcoef(rankdata(z), y_rank)[0, 1]
        slope, intercept = np.polyfit(z, y, 1)
        mae = np.abs(y - (intercept + slope * z)).mean()
        return src - self.mae_weight * mae

    def describe(self) -> dict[str, float]:
        return {c: round(float(w), 4) for c, w in zip(self.columns_, self.weights_, strict=True)}


class TieredBlend:
    """A tier-2 blender per group of tier-1 models, and a final blender over the tier-2
    blends. ``groups`` maps a group name to its members' prediction columns."""

    def __init__(self, groups: dict[str, list[str]], method: str = "weights", mae_weight: float = 0.01) -> None:
        self.groups, self.method, self.mae_weight = groups, method, mae_weight

    def fit(self, preds: pd.DataFrame, y: np.ndarray,
            forward: tuple[pd.DataFrame, np.ndarray] | None = None) -> TieredBlend:
        """``preds``: a column per tier-1 model, on rows none of them was fitted on;
        ``forward``: optionally a later, forward-in-time view (see ``Blender.fit``)."""
        self.tiers_ = {f"tier2_{g}": Blender(self.method, self.mae_weight).fit(
            preds[members], y, forward and (forward[0][members], forward[1]))
            for g, members in self.groups.items()}
        tier2 = self._tier2(preds)
        self.tiers_["final"] = Blender(self.method, self.mae_weight).fit(
            tier2, y, forward and (self._tier2(forward[0]), forward[1]))
        return self

    def _tier2(self, preds: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({k: b.predict(preds[b.columns_]) for k, b in self.tiers_.items()
                             if k != "final"}, index=preds.index)

    def predict(self, preds: pd.DataFrame) -> pd.DataFrame:
        """``preds`` with a column added for every tier-2 blend and the final blend."""
        out = preds.copy()
        for name, blender in self.tiers_.items():
            out[name] = blender.predict(out[blender.columns_])
        return out

    def carry(self, parts: dict[str, tuple[pd.DataFrame, np.ndarray]]) -> tuple[pd.DataFrame, np.ndarray]:
        """Feature contributions to the final blend, from each tier-1 model's (``parts``:
        per model, contributions and base values that sum to its prediction): every tier
        passes each input's contributions on in proportion to the share its blender
        credits that input with, so the sums stay exact through the tiers."""
        for name, blender in self.tiers_.items():
            parts[name] = _carried(blender, {c: parts[c] for c in blender.columns_})
        return parts["final"]

    def used(self) -> list[str]:
        """The tier-1 columns the final blend gives weight to, through a tier-2 blend (a
        stacker's negative weight is a use too)."""
        final = self.tiers_["final"]
        return [m for tier, w in zip(final.columns_, final.weights_, strict=True) if w != 0
                for m, v in zip(self.tiers_[tier].columns_, self.tiers_[tier].weights_, strict=True) if v != 0]

    def describe(self) -> dict[str, dict[str, float]]:
        return {name: b.describe() for name, b in self.tiers_.items()}


def _carried(blender: Blender, inputs: dict[str, tuple[pd.DataFrame, np.ndarray]]
             ) -> tuple[pd.DataFrame, np.ndarray]:
    """One blender's output as contributions of its inputs' features: each input's
    contributions rescaled to the share the blender credits that input with."""
    index = next(iter(inputs.values()))[0].index
    preds = pd.DataFrame({c: C.sum(axis=1).to_numpy() + b for c, (C, b) in inputs.items()}, index=index)
    bases = pd.DataFrame({c: b for c, (_, b) in inputs.items()}, index=index)
    shares, base = blender.attribute(preds, bases)
    out = pd.DataFrame(index=index)
    for j, c in enumerate(blender.columns_):
        scaled, left = rescaled(inputs[c][0], preds[c].to_numpy() - bases[c].to_numpy(), shares[:, j])
        out, base = out.add(scaled, fill_value=0.0), base + left
    return out, base


def _normalised(w: np.ndarray) -> np.ndarray:
    return w / w.sum()
