"""Gradient-boosted trees: LightGBM and CatBoost, category codes as native categoricals."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from popfusion.compute import threads
from popfusion.models.base import Model, categorical_columns
from popfusion.progress import step


class LightGBM(Model):
    """LightGBM gradient-boosted trees; category codes with at most ``max_categories``
    values as native categoricals, early stopping on the latest rows of each fold, and
    ``device: auto`` (CUDA where there is one and this LightGBM build has it). ``max_bin``
    63 rather than LightGBM's 255: on the fast preset's features it fitted in 0.5 to 0.95
    of the time and scored as well or better on synthetic SMPD and all three real cases
    (BENCHMARKS.md, "Faster trees")."""

    kind = "lightgbm"
    version = 2  # max_bin 63 by default

    def __init__(self, n_estimators: int = 2000, learning_rate: float = 0.03, num_leaves: int = 63,
                 min_child_samples: int = 40, subsample: float = 0.8, colsample_bytree: float = 0.5,
                 objective: str = "regression", early_stopping: int = 100, max_categories: int = 1000,
                 max_bin: int = 63, seed: int = 0, device: str = "auto") -> None:
        super().__init__(n_estimators=n_estimators, learning_rate=learning_rate, num_leaves=num_leaves,
                         min_child_samples=min_child_samples, subsample=subsample,
                         colsample_bytree=colsample_bytree, objective=objective,
                         early_stopping=early_stopping, max_categories=max_categories, max_bin=max_bin,
                         seed=seed, device=device)

    def fit(self, X, y, X_val=None, y_val=None, *, unlabelled=None, texts=None, weight=None) -> LightGBM:
        import lightgbm as lgb

        p = self.params
        self.model_ = lgb.LGBMRegressor(
            n_estimators=p["n_estimators"], learning_rate=p["learning_rate"], num_leaves=p["num_leaves"],
            min_child_samples=p["min_child_samples"], subsample=p["subsample"], subsample_freq=1,
            colsample_bytree=p["colsample_bytree"], objective=p["objective"], max_bin=p["max_bin"],
            random_state=p["seed"],
            n_jobs=threads(), verbose=-1, deterministic=True, force_row_wise=True,
            device_type=_lightgbm_device(p["device"]))
        # high-cardinality codes (user ids) stay numeric: as categoricals they overfit
        self.cats_ = [c for c in categorical_columns(X) if X[c].nunique() <= p["max_categories"]]
        cats = self.cats_
        callbacks = [_rounds]
        kwargs = {"categorical_feature": cats or "auto"}
        if X_val is not None:
            kwargs |= {"eval_X": (_cats(X_val, cats),), "eval_y": (y_val,)}
            callbacks.append(lgb.early_stopping(p["early_stopping"], verbose=False))
        self.model_.fit(_cats(X, cats), y, sample_weight=weight, callbacks=callbacks, **kwargs)
        return self

    def predict(self, X: pd.DataFrame, *, texts: pd.Series | None = None) -> np.ndarray:
        return self._booster(X)

    def contributions(self, X, background, *, texts=None) -> tuple[pd.DataFrame, np.ndarray]:
        """LightGBM's own TreeSHAP values (``pred_contrib``): exact, and independent of
        the background."""
        values = self._booster(X, pred_contrib=True)
        return pd.DataFrame(values[:, :-1], index=X.index, columns=X.columns), values[:, -1]

    def _booster(self, X: pd.DataFrame, **kwargs) -> np.ndarray:
        """The booster on the frame's values (a copy), unseen category codes missing: the
        scikit-learn wrapper's checks of a frame took 2.4 ms of a one-post request, the
        trees 0.06 (the same numbers, tested)."""
        values = X.to_numpy(np.float32 if (X.dtypes == np.float32).all() else np.float64, copy=True)
        for i in np.flatnonzero(X.columns.isin(self.cats_)):
            values[values[:, i] < 0, i] = np.nan
        return self.model_.booster_.predict(values, num_iteration=self.model_.best_iteration_ or None, **kwargs)

    def budget(self) -> dict:
        stopped = self.model_.best_iteration_  # 0 without early stopping
        return {"n_estimators": stopped} if stopped else {}

    def feature_importance(self) -> pd.Series:
        booster = self.model_.booster_
        return pd.Series(booster.feature_importance("gain"), index=booster.feature_name()).sort_values(
            ascending=False)


def _rounds(env) -> None:
    """LightGBM callback: each boosting round to the progress bar."""
    step(env.iteration + 1, env.end_iteration)


class _Iterations:
    """CatBoost callback (CPU only): each iteration to the progress bar."""

    def __init__(self, total: int) -> None:
        self.total = total

    def after_iteration(self, info) -> bool:
        step(info.iteration, self.total)
        return True  # go on


class CatBoost(Model):
    """CatBoost with ordered target statistics on the category codes (user id among
    them); rows are given in time order so those statistics only look back.
    ``border_count`` 64 rather than CatBoost's 254: 0.75 to 0.8 of the time, SRC within
    noise either way and MAE mostly lower; ``max_ctr_complexity`` 2 rather than its 4
    (target statistics of pairs of categories at most): 0.6 to 0.75 of the time, the same
    scores on the real SMPD users and within noise elsewhere, where 1 was faster still
    but lost SRC and MAE on SMPD (BENCHMARKS.md, "Faster trees")."""

    kind = "catboost"
    version = 3  # max_ctr_complexity 2 by default

    def __init__(self, iterations: int = 2000, learning_rate: float = 0.05, depth: int = 6,
                 loss: str = "RMSE", early_stopping: int = 100, border_count: int = 64,
                 max_ctr_complexity: int | None = 2, seed: int = 0, device: str = "auto") -> None:
        """``max_ctr_complexity``: how many categorical features CatBoost may combine into
        one target statistic (None: CatBoost's default, 4 on CPU)."""
        super().__init__(iterations=iterations, learning_rate=learning_rate, depth=depth, loss=loss,
                         early_stopping=early_stopping, border_count=border_count,
                         max_ctr_complexity=max_ctr_complexity, seed=seed, device=device)

    def fit(self, X, y, X_val=None, y_val=None, *, unlabelled=None, texts=None, weight=None) -> CatBoost:
        from catboost import CatBoostRegressor, Pool

        p = self.params
        task = "GPU" if p["device"] == "cuda" or (p["device"] == "auto" and _has_cuda()) else "CPU"
        self.model_ = CatBoostRegressor(
            iterations=p["iterations"], learning_rate=p["learning_rate"], depth=p["depth"],
            loss_function=p["loss"], border_count=p["border_count"], random_seed=p["seed"],
            thread_count=threads(),
            task_type=task, has_time=True, verbose=False, allow_writing_files=False,
            **({"max_ctr_complexity": p["max_ctr_complexity"]} if p["max_ctr_complexity"] is not None else {}))
        cats = categorical_columns(X)
        val = Pool(_ints(X_val, cats), y_val, cat_features=cats) if X_val is not None else None
        self.model_.fit(Pool(_ints(X, cats), y, cat_features=cats, weight=weight), eval_set=val,
                        early_stopping_rounds=p["early_stopping"] if val is not None else None,
                        callbacks=[_Iterations(p["iterations"])] if task == "CPU" else None)
        return self

    def predict(self, X: pd.DataFrame, *, texts: pd.Series | None = None) -> np.ndarray:
        return self.model_.predict(_ints(X, categorical_columns(X)))

    def contributions(self, X, background, *, texts=None) -> tuple[pd.DataFrame, np.ndarray]:
        """CatBoost's own SHAP values (``ShapValues``): exact, and independent of the
        background."""
        from catboost import Pool

        cats = categorical_columns(X)
        values = self.model_.get_feature_importance(Pool(_ints(X, cats), cat_features=cats), type="ShapValues")
        return pd.DataFrame(values[:, :-1], index=X.index, columns=X.columns), values[:, -1]

    def budget(self) -> dict:
        stopped = self.model_.get_best_iteration()  # None without an eval set
        return {"iterations": stopped + 1} if stopped is not None else {}

    def feature_importance(self) -> pd.Series:
        return pd.Series(self.model_.get_feature_importance(), index=self.model_.feature_names_).sort_values(
            ascending=False)


def _cats(X: pd.DataFrame, cats: list[str]) -> pd.DataFrame:
    """Negative category codes (values unseen in fit) become missing, as LightGBM wants
    (in fit; ``LightGBM._booster`` does the same on the values)."""
    return X.assign(**{c: X[c].where(X[c] >= 0) for c in cats}) if cats else X


def _ints(X: pd.DataFrame, cats: list[str]) -> pd.DataFrame:
    """Category codes as integers, as CatBoost wants (``assign`` of arrays: ``astype``
    with a dict took 1.6 ms on a one-row frame, a third of a service's model time)."""
    return X.assign(**{c: X[c].to_numpy().astype(np.int64) for c in cats}) if cats else X


def _lightgbm_device(device: str) -> str:
    """``auto``: ``cuda`` where a GPU is and this LightGBM build was compiled for CUDA (the
    PyPI wheel is not; probed once on a tiny fit), else ``cpu``; anything else as given."""
    if device != "auto":
        return device
    return "cuda" if _has_cuda() and _lightgbm_has_cuda() else "cpu"


@functools.cache
def _lightgbm_has_cuda() -> bool:
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    try:
        lgb.train({"device_type": "cuda", "verbose": -1}, lgb.Dataset(rng.random((64, 2)), rng.random(64)), 1)
    except lgb.basic.LightGBMError:
        return False
    return True


def _has_cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False
