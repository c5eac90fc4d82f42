"""The validation stage's fold models of one kind, standing in for its refit on every
training row (``validation.holdout_by: folds``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from popfusion.models.base import Model


class FoldMean(Model):
    """The mean of fitted models. The fold models, each fitted on all but one time fold,
    predict the hold-out in place of a refit on every training row: the refit is the
    largest fit a model makes in the validation stage, and the folds are fitted anyway.
    Importance and contributions are the members' means; Shapley values are linear in the
    model, so the mean's contributions still add up to its prediction."""

    kind = "fold_mean"

    def __init__(self, members: list[Model]) -> None:
        if not members:
            raise ValueError("a fold mean needs at least one fitted model")
        super().__init__(members=list(members))

    def fit(self, X, y, X_val=None, y_val=None, *, unlabelled=None, texts=None, weight=None) -> FoldMean:
        raise TypeError("a FoldMean is made of models already fitted; fit its members instead")

    def predict(self, X: pd.DataFrame, *, texts: pd.Series | None = None) -> np.ndarray:
        return np.mean([np.asarray(m.predict(X, texts=texts), float) for m in self.params["members"]], axis=0)

    def feature_importance(self) -> pd.Series | None:
        each = [m.feature_importance() for m in self.params["members"]]
        if any(i is None for i in each):
            return None
        return pd.concat(each, axis=1).fillna(0.0).mean(axis=1)

    def contributions(self, X: pd.DataFrame, background: pd.DataFrame, *,
                      texts: pd.Series | None = None) -> tuple[pd.DataFrame, np.ndarray]:
        parts = [m.contributions(X, background, texts=texts) for m in self.params["members"]]
        values = sum(c.to_numpy(float) for c, _ in parts) / len(parts)
        base = np.mean([np.broadcast_to(np.asarray(b, float), len(X)) for _, b in parts], axis=0)
        return pd.DataFrame(values, index=X.index, columns=parts[0][0].columns), base

    def __repr__(self) -> str:
        return f"FoldMean({len(self.params['members'])} x {type(self.params['members'][0]).__name__})"
