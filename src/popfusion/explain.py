"""Why a post scores what it scores: the contribution of every feature to its final,
drift-corrected score, and the same summed by feature family.

Each tier-1 model explains its own prediction: the tree models with their own SHAP values
(LightGBM ``pred_contrib``, CatBoost ``ShapValues``), ridge exactly, the others through
the ``shap`` package's model-agnostic permutation explainer. Those contributions are
carried back to the label's scale through the label transform, through the tier-2 and
final blends in proportion to what each blend credits each model with, and the drift
correction is one more contribution (to the time family). The base value plus the
contributions is the post's score, exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from popfusion.features.base import DAY
from popfusion.fusion.attribution import rescaled
from popfusion.fusion.blend import TieredBlend
from popfusion.models.base import Model
from popfusion.names import family
from popfusion.training.drift import DriftCorrection
from popfusion.training.ensemble import Spec, feature_columns, select
from popfusion.training.target import LabelTransform

DRIFT_COLUMN = "drift_correction"
BACKGROUND = 50  # rows the model-agnostic explainer fills a hidden feature from


@dataclass
class Explanation:
    """Per post (rows, indexed like the posts explained): ``contributions`` of every
    feature on the label's scale, the ``base`` value they add to and the ``score``
    (``base + contributions.sum(axis=1)``, the post's prediction)."""

    contributions: pd.DataFrame
    base: pd.Series
    score: pd.Series

    def by_family(self) -> pd.DataFrame:
        """The contributions summed by feature family (user history, time, text, ...),
        families in order of their mean absolute contribution."""
        families = self.contributions.T.groupby(family).sum().T
        return families[families.abs().mean().sort_values(ascending=False).index]

    def top(self, row: int = 0, n: int = 10) -> pd.Series:
        """One post's ``n`` largest contributions by size, signed."""
        values = self.contributions.iloc[row]
        return values[values.abs().sort_values(ascending=False).index[:n]]


def explain(specs: list[Spec], models: dict[str, Model], target: LabelTransform, blend: TieredBlend,
            drift: DriftCorrection, X: pd.DataFrame, times: np.ndarray, background: pd.DataFrame,
            texts: pd.Series | None = None) -> Explanation:
    """The explanation of what ``models`` (fitted on ``target``'s scale, read through
    ``blend`` and ``drift``) predict for rows ``X`` posted at ``times`` (UTC seconds)."""
    parts = {}
    for spec in specs:
        cols = feature_columns(X.columns, spec.features)
        C, b = models[spec.name].contributions(select(X, cols), select(background, cols), texts=texts)
        z = C.sum(axis=1).to_numpy() + b
        C, left = rescaled(C, z - b, target.inverse(z) - target.inverse(b))
        parts[spec.name] = (C, target.inverse(b) + left)
    C, base = blend.carry(parts)
    final = C.sum(axis=1).to_numpy() + base
    C[DRIFT_COLUMN] = drift.apply(np.asarray(times, float) / DAY, final) - final
    order = [c for c in X.columns if c in C] + [c for c in C if c not in X.columns]
    return Explanation(C[order], pd.Series(base, index=X.index, name="base"),
                       pd.Series(final + C[DRIFT_COLUMN].to_numpy(), index=X.index, name="score"))
