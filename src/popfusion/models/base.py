"""One interface for every model: scikit-learn style fit/predict, plus save/load that
write atomically (a crash never leaves a half-written model that loads)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from popfusion.atomic import load_pickle, save_pickle

CAT_SUFFIX = "__cat"


def categorical_columns(X: pd.DataFrame) -> list[str]:
    """Columns holding category codes (named ``*__cat`` by the feature blocks)."""
    return [c for c in X.columns if c.endswith(CAT_SUFFIX)]


class Model(ABC):
    """A regressor on a numeric feature frame."""

    kind: ClassVar[str]
    version: ClassVar[int] = 1  # bump when a change alters what a fit learns: checkpoints go stale

    def __init__(self, **params: Any) -> None:
        self.params = params

    @abstractmethod
    def fit(self, X: pd.DataFrame, y: np.ndarray, X_val: pd.DataFrame | None = None,
            y_val: np.ndarray | None = None, *, unlabelled: pd.DataFrame | None = None,
            texts: pd.Series | None = None, weight: np.ndarray | None = None) -> Model:
        """Fit on ``X, y``; with validation data, stop early where the model can.
        ``unlabelled``: the rows to predict, for models that pretrain on every row's
        features (the DAE); ``texts``: each post's text by row index, for models that read
        text rather than features. Other models ignore both. ``weight``: each row's
        weight in the loss (None: all equal), which every model honours."""

    @abstractmethod
    def predict(self, X: pd.DataFrame, *, texts: pd.Series | None = None) -> np.ndarray: ...

    def feature_importance(self) -> pd.Series | None:
        return None

    def contributions(self, X: pd.DataFrame, background: pd.DataFrame, *,
                      texts: pd.Series | None = None) -> tuple[pd.DataFrame, np.ndarray]:
        """Each feature's contribution to each row's prediction (on the scale ``predict``
        returns), and the base value they add to: ``contributions.sum(axis=1) + base``
        equals ``predict(X)``. This default is model-agnostic: Shapley values by
        permutation (the ``shap`` package), features missing from a row taken from the
        ``background`` rows. Models with exact, faster attributions override it."""
        import shap

        background = background[X.columns]
        explainer = shap.explainers.Permutation(lambda v: self.predict(pd.DataFrame(v, columns=X.columns)),
                                                shap.maskers.Independent(background.to_numpy(np.float64),
                                                                         max_samples=len(background)),
                                                seed=0)
        values = explainer(X.to_numpy(np.float64), max_evals=2 * X.shape[1] + 1, silent=True)
        base = np.asarray(values.base_values, float)
        return pd.DataFrame(values.values, index=X.index, columns=X.columns), base

    def budget(self) -> dict[str, Any]:
        """The parameters that make a fit without validation data run as long as this one
        did (trees, epochs; after early stopping, up to the best round). The ensemble refits
        each model on every labelled row with the folds' mean budget; empty for models
        without such a length."""
        return {}

    def save(self, path: str | Path) -> Path:
        return save_pickle(self, path)

    @staticmethod
    def load(path: str | Path) -> Model:
        return load_pickle(path, Model)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"


class Preprocessor:
    """Median imputation, missing flags and standardisation, for models that need clean,
    scaled inputs (linear, neural); category codes pass through as numbers."""

    def fit(self, X: pd.DataFrame) -> Preprocessor:
        values = X.to_numpy(np.float32)
        self.columns_ = list(X.columns)
        self.median_ = np.nan_to_num(np.nanmedian(values, axis=0))
        self.flags_ = np.flatnonzero(np.isnan(values).any(axis=0))
        filled = np.where(np.isnan(values), self.median_, values)
        self.mean_, self.sd_ = filled.mean(axis=0), filled.std(axis=0) + 1e-6
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        values = X[self.columns_].to_numpy(np.float32)
        missing = np.isnan(values)
        filled = (np.where(missing, self.median_, values) - self.mean_) / self.sd_
        return np.hstack([np.clip(filled, -10, 10), missing[:, self.flags_]]).astype(np.float32)

    @property
    def width(self) -> int:
        """Columns out of ``transform``: the features and one flag per gappy feature."""
        return len(self.columns_) + len(self.flags_)
