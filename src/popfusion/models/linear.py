"""The ridge baseline: imputed, standardised features and an L2-penalised linear fit."""

from __future__ import annotations

import numpy as np
import pandas as pd

from popfusion.linalg import row_products
from popfusion.models.base import Model, Preprocessor


class Ridge(Model):
    """An L2-penalised linear regression (penalty ``alpha``) on imputed, standardised
    features with missing-value flags."""

    kind = "ridge"

    def __init__(self, alpha: float = 10.0) -> None:
        super().__init__(alpha=alpha)

    def fit(self, X, y, X_val=None, y_val=None, *, unlabelled=None, texts=None, weight=None) -> Ridge:
        from sklearn.linear_model import Ridge as SkRidge

        self.prep_ = Preprocessor().fit(X)
        self.model_ = SkRidge(alpha=self.params["alpha"]).fit(self.prep_.transform(X), y, sample_weight=weight)
        return self

    def predict(self, X: pd.DataFrame, *, texts: pd.Series | None = None) -> np.ndarray:
        coef = np.asarray(self.model_.coef_, np.float64)[None, :]
        return row_products(self.prep_.transform(X).astype(np.float64), coef)[:, 0] + self.model_.intercept_

    def contributions(self, X, background, *, texts=None) -> tuple[pd.DataFrame, np.ndarray]:
        """Exact: each standardised feature times its coefficient, its missing flag's term
        added to it; the base is the intercept (the prediction for a row of training means)."""
        coef = np.asarray(self.model_.coef_, np.float64)
        terms = self.prep_.transform(X).astype(np.float64) * coef
        width = len(self.prep_.columns_)
        per_feature = terms[:, :width]
        np.add.at(per_feature.T, self.prep_.flags_, terms[:, width:].T)
        base = np.full(len(X), float(self.model_.intercept_))
        return pd.DataFrame(per_feature, index=X.index, columns=self.prep_.columns_)[list(X.columns)], base

    def feature_importance(self) -> pd.Series:
        coef = np.abs(self.model_.coef_[: len(self.prep_.columns_)])
        return pd.Series(coef, index=self.prep_.columns_).sort_values(ascending=False)
