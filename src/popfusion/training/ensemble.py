"""The tiered ensemble: tier-1 models on feature groups with out-of-fold predictions,
tier-2 blends per modality, a tier-3 final blend, and optional pseudo-label rounds.

The folds give the out-of-fold predictions the blends learn from. Test posts are then
predicted by one more fit of each model on every labelled row (``refit``), as long as the
folds' early stopping said (trees, epochs): under drift the latest posts matter most, and
in chronological folds a third of the models never see them (on the 10K synthetic SMPD
this is worth +0.018 SRC for LightGBM, see BENCHMARKS.md).

Every blend is fitted on out-of-fold predictions of labelled training rows only; ``reblend``
adds a second view of rows the models never saw (the validation hold-out's).
Pseudo-labelled rows join the training side of every fold and never the validation side,
so they never reach a blend's fitting rows. With ``prune``, a pseudo-label round fits only
the models the previous round's blend gave weight to: the others would cost a full round of
fits (most of one, in the ``smp`` preset) for predictions no blend uses.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from popfusion.fusion.blend import TieredBlend
from popfusion.models.base import Model
from popfusion.models.zoo import MODELS, make_model
from popfusion.progress import progress_bar
from popfusion.training.splits import folds as make_folds
from popfusion.training.target import LabelTransform

log = logging.getLogger(__name__)

GROUPS: dict[str, tuple[str, ...]] = {
    "meta": ("meta_", "columns_", "trend_"),
    "user": ("user_",),
    "columns": ("columns_",),
    "lexical": ("lexical_",),
    "text": ("text_", "lexical_", "xmodal_title_tags", "cluster_text_", "knn_text_"),
    "image": ("image_", "imgstat_", "xmodal_image_", "cluster_image_", "knn_image_"),
    "all": ("",),
}
EARLY_STOP_SHARE = 0.1


def feature_columns(columns: pd.Index, groups: list[str]) -> list[str]:
    """The columns of the named feature groups, in frame order."""
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise ValueError(f"unknown feature group(s) {unknown}; known: {', '.join(GROUPS)}")
    prefixes = tuple(p for g in groups for p in GROUPS[g])
    return [c for c in columns if c.startswith(prefixes)]


MODALITY = {"text": "text", "lexical": "text", "image": "image", "all": "all"}  # others: user


def modality(groups: list[str]) -> str:
    """The tier-2 group a model belongs to: text or image when it sees only that modality,
    user when it sees only metadata, user history and platform columns, else all."""
    every = {MODALITY.get(g, "user") for g in groups}
    if "all" in every or len(every) > 1:
        return "all"
    return every.pop()


@dataclass
class Spec:
    """One tier-1 model: a name, a model kind with parameters, the feature groups it sees."""

    name: str
    model: str
    features: list[str] = field(default_factory=lambda: ["all"])
    params: dict = field(default_factory=dict)


@dataclass
class Ensemble:
    specs: list[Spec]
    n_folds: int = 3
    scheme: str = "time"
    fusion: str = "weights"
    mae_weight: float = 0.01
    label_transform: str = "none"
    seed: int = 0
    checkpoints: Path | None = None
    texts: pd.Series | None = None  # post texts by index, for the text regressor
    refit: bool = True  # test predictions from a fit on every row (else the folds' mean)
    prune: bool = True  # pseudo-label rounds fit only the models the last round's blend weighs

    def fit(self, X: pd.DataFrame, y: np.ndarray, times: np.ndarray, users: np.ndarray,
            X_test: pd.DataFrame, pseudo_rounds: int = 0, pseudo_share: float = 0.3,
            pseudo_ok: np.ndarray | None = None) -> Ensemble:
        """``X`` training rows in time order; ``X_test`` the rows to predict. Pseudo-labels
        come only from test rows where ``pseudo_ok`` (default: all)."""
        self.target_ = LabelTransform(self.label_transform).fit(y)
        self.fold_ = make_folds(times, self.n_folds, self.scheme, users, self.seed)
        pseudo_ok = np.ones(len(X_test), bool) if pseudo_ok is None else pseudo_ok
        self.active_, self.importance_ = self._with_columns(X.columns), {}
        self.rounds_: list[pd.DataFrame] = []  # each round's test predictions, every tier
        self.round_oof_: list[pd.DataFrame] = []  # each round's tier-1 out-of-fold predictions
        chosen = np.zeros(len(X_test), bool)
        for rnd in range(pseudo_rounds + 1):
            if rnd and self.prune:
                self._prune()
            extra_X, extra_y = X_test[chosen], self.rounds_[-1]["final"].to_numpy()[chosen] if rnd else []
            self._fit_round(rnd, X, y, extra_X, np.asarray(extra_y, float), X_test)
            self.rounds_.append(self.test_)
            self.round_oof_.append(self.oof_[self.names()])
            if rnd < pseudo_rounds:
                chosen = self._confident(self.test_, pseudo_ok, pseudo_share)
                log.info("pseudo-label round %d: %d confident test posts join training", rnd + 1, chosen.sum())
        return self

    def _with_columns(self, columns: pd.Index) -> list[Spec]:
        """The specs whose feature groups have columns in this data: a preset's image
        model on posts without images, or its lexical model on posts without text, is
        skipped with a word instead of failing the run."""
        kept = [s for s in self.specs if feature_columns(columns, s.features)]
        for spec in self.specs:
            if spec not in kept:
                log.info("%s: no columns in feature groups %s in this data; not fitted", spec.name,
                         ", ".join(spec.features))
        if not kept:
            raise ValueError("no model has any feature columns in this data")
        return kept

    def names(self) -> list[str]:
        """The tier-1 models of the latest round, in recipe order."""
        return [s.name for s in self.active_]

    def _prune(self) -> None:
        used = self.blend_.used()
        dropped = [n for n in self.names() if n not in used]
        if dropped:
            log.info("the blend gives no weight to %s: the next round fits %s only",
                     ", ".join(dropped), ", ".join(used))
        self.active_ = [s for s in self.active_ if s.name in used]

    def _fit_round(self, rnd: int, X, y, extra_X, extra_y, X_test) -> None:
        X_all = pd.concat([X, extra_X]) if len(extra_X) else X
        y_all = np.concatenate([y, extra_y]) if len(extra_X) else y
        fold_all = np.concatenate([self.fold_, np.full(len(extra_X), -1)])
        z_all = self.target_.transform(y_all)
        oof, test, self.models_ = {}, {}, {}
        with progress_bar() as bar:
            task = bar.add_task(f"round {rnd}: models", total=len(self.active_) * (self.n_folds + self.refit))
            for spec in self.active_:
                cols = feature_columns(X.columns, spec.features)
                o, t, models = self._fit_oof(spec, rnd, _select(X_all, cols), z_all, fold_all,
                                             _select(X_test, cols), bar, task)
                oof[spec.name] = self.target_.inverse(o[: len(X)])
                test[spec.name] = self.target_.inverse(t)
                self.models_[spec.name] = models
                self.importance_[spec.name] = _mean_importance(models)
        self.oof_, self.y_ = pd.DataFrame(oof, index=X.index), y
        self.blend_ = self.blend().fit(self.oof_, y)
        self.oof_ = self.blend_.predict(self.oof_)
        self.test_ = self.blend_.predict(pd.DataFrame(test, index=X_test.index))

    def _fit_oof(self, spec: Spec, rnd: int, X, z, fold, X_test, bar, task) -> tuple:
        oof = np.full(len(X), np.nan)
        models = []
        inputs = _Inputs(X, X_test, self.texts) if self.checkpoints is not None else None
        for f in range(self.n_folds):
            # early stopping on the latest real (not pseudo-labelled) rows of the fitting side
            real = np.flatnonzero((fold != f) & (fold >= 0))
            stop_rows = real[-max(1, int(len(real) * EARLY_STOP_SHARE)):]
            train_rows = np.setdiff1d(np.flatnonzero(fold != f), stop_rows)
            model = self._checkpointed(spec, rnd, f, X, z, train_rows, stop_rows, X_test, inputs)
            val = fold == f
            oof[val] = self._predict(model, X[val])
            models.append(model)
            bar.advance(task)
        if self.refit:
            budget = _mean_budget(models)
            log.info("%s: refit on all %d rows%s", spec.name, len(X), f" with {budget}" if budget else "")
            models = [self._checkpointed(spec, rnd, "all", X, z, np.arange(len(X)), None, X_test, inputs,
                                         budget)]
            bar.advance(task)
        test = np.mean([self._predict(m, X_test) for m in models], axis=0)
        return oof, test, models

    def _checkpointed(self, spec, rnd, f, X, z, train_rows, stop_rows, X_test, inputs, budget=None) -> Model:
        params = {**spec.params, **(budget or {})}
        path = None
        if inputs is not None:
            key = inputs.key(spec, params, (rnd, f, self.seed), z, train_rows, stop_rows)
            path = self.checkpoints / f"{spec.name}-r{rnd}-f{f}-{key}.pkl"
            if path.exists():
                log.info("%s fold %s round %d: reused from %s", spec.name, f, rnd, path.name)
                return Model.load(path)
        model = make_model(spec.model, {**params, "seed": self.seed} if "seed" in _params_of(spec.model)
                           else params)
        if hasattr(model, "unlabelled"):
            model.unlabelled = X_test
        if hasattr(model, "texts"):
            model.texts = self.texts
        if stop_rows is None:
            model.fit(_rows(X, train_rows), z[train_rows])
        else:
            model.fit(_rows(X, train_rows), z[train_rows], X.iloc[stop_rows], z[stop_rows])
        if path is not None:
            model.save(path)
        return model

    def _predict(self, model: Model, X: pd.DataFrame) -> np.ndarray:
        if hasattr(model, "texts"):
            model.texts = self.texts
        return np.asarray(model.predict(X), float)

    def blend(self, names: list[str] | None = None) -> TieredBlend:
        """An unfitted blend of tier-1 models grouped by modality: the named ones, or those
        of the latest round."""
        groups: dict[str, list[str]] = {}
        for spec in self.active_ if names is None else [s for s in self.specs if s.name in names]:
            groups.setdefault(modality(spec.features), []).append(spec.name)
        return TieredBlend(groups, self.fusion, self.mae_weight)

    def reblend(self, forward: pd.DataFrame, y: np.ndarray) -> Ensemble:
        """Refit the blends on the out-of-fold predictions together with a forward-in-time
        view of the same tier-1 models (their predictions for a later hold-out, ``y`` its
        labels), and apply them again: the weights must then hold in both."""
        tier1 = self.names()
        self.blend_ = self.blend().fit(self.oof_[tier1], self.y_, (forward[tier1], y))
        self.oof_ = self.blend_.predict(self.oof_[tier1])
        self.test_ = self.blend_.predict(self.test_[tier1])
        return self

    def predict(self, X: pd.DataFrame) -> pd.DataFrame:
        """Every tier's prediction for new rows, from the tier-1 models fitted on every row
        (without ``refit``: averaged over their folds)."""
        preds = {}
        for spec in self.active_:
            cols = feature_columns(X.columns, spec.features)
            z = np.mean([self._predict(m, _select(X, cols)) for m in self.models_[spec.name]], axis=0)
            preds[spec.name] = self.target_.inverse(z)
        return self.blend_.predict(pd.DataFrame(preds, index=X.index))

    def _confident(self, test: pd.DataFrame, ok: np.ndarray, share: float) -> np.ndarray:
        """Test rows where the tier-1 models that the final blend uses agree most (lowest
        spread of predictions); models the blend ignores would only add noise."""
        tier1 = test[self.blend_.used()].to_numpy()
        spread = tier1.std(axis=1) if tier1.shape[1] > 1 else np.zeros(len(test))
        candidates = np.flatnonzero(ok)
        keep = candidates[np.argsort(spread[candidates], kind="stable")[: int(len(candidates) * share)]]
        chosen = np.zeros(len(test), bool)
        chosen[keep] = True
        return chosen


class _Inputs:
    """What a fit reads beyond its labels, hashed once per model and round, so that a
    checkpoint's key covers every row it was fitted on, stopped on or given as unlabelled
    rows, every text, and the model's code version: a change anywhere refits it (a key
    over the first 1,000 rows once reused models fitted on since-edited later rows)."""

    def __init__(self, X: pd.DataFrame, X_test: pd.DataFrame, texts: pd.Series | None) -> None:
        self.rows = pd.util.hash_pandas_object(X, index=False).to_numpy()
        self.columns = repr(list(X.columns)).encode()
        self.others = hashlib.sha256(pd.util.hash_pandas_object(X_test, index=False).to_numpy().tobytes())
        if texts is not None:
            self.others.update(pd.util.hash_pandas_object(texts).to_numpy().tobytes())

    def key(self, spec: Spec, params: dict, where: tuple, z: np.ndarray, train_rows: np.ndarray,
            stop_rows: np.ndarray | None) -> str:
        digest = hashlib.sha256(repr((spec, params, where, MODELS[spec.model].version)).encode())
        digest.update(self.columns)
        for rows in (train_rows, stop_rows if stop_rows is not None else np.zeros(0, int)):
            digest.update(self.rows[rows].tobytes())
            digest.update(np.ascontiguousarray(z[rows]).tobytes())
        digest.update(self.others.digest())
        return digest.hexdigest()[:16]


def _params_of(kind: str) -> set[str]:
    import inspect

    return set(inspect.signature(MODELS[kind].__init__).parameters)


def _select(X: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """``X[cols]`` without the copy when ``cols`` is every column (the `all` models): at
    full SMPD scale a copy of the training frame is over a gigabyte."""
    return X if len(cols) == X.shape[1] else X[cols]


def _rows(X: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """``X.iloc[rows]`` for sorted, distinct ``rows``; ``X`` itself, uncopied, when they
    are all of its rows (the refit)."""
    return X if len(rows) == len(X) else X.iloc[rows]


def _mean_budget(models: list[Model]) -> dict[str, int]:
    """The folds' mean of every budget all of them report."""
    budgets = [m.budget() for m in models]
    shared = set.intersection(*(set(b) for b in budgets)) if budgets else set()
    return {k: max(1, round(float(np.mean([b[k] for b in budgets])))) for k in sorted(shared)}


def _mean_importance(models: list[Model]) -> pd.Series | None:
    parts = [m.feature_importance() for m in models]
    parts = [p for p in parts if p is not None]
    return pd.concat(parts, axis=1).mean(axis=1).sort_values(ascending=False) if parts else None
