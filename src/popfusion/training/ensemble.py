"""Tier-1 models in time folds: out-of-fold predictions for every labelled row, and a
prediction of every other row from each model refitted on every labelled row, in rounds
that can add pseudo-labelled rows. The trainer (``training.trainer``) runs this on the
validation stage, where the rows to predict include the hold-out, and learns its
decisions from the result.

Test rows are predicted by one more fit of each model on every labelled row, as long as
the folds' early stopping said (trees, epochs): under drift the latest posts matter most,
and in chronological folds a third of the models never see them (on the 10K synthetic
SMPD this is worth +0.018 SRC for LightGBM, see BENCHMARKS.md).

Each round's blend is fitted on out-of-fold predictions of labelled training rows only.
Pseudo-labelled rows join the training side of every fold and never the validation side,
so they never reach a blend's fitting rows. With ``prune``, a pseudo-label round fits only
the models the previous round's blend gave weight to: the others would cost a full round
of fits for predictions no blend uses.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from rich.progress import Progress

from popfusion.compute import current, ready, threads
from popfusion.fusion.blend import TieredBlend
from popfusion.models.base import Model
from popfusion.models.fold_mean import FoldMean
from popfusion.models.zoo import MODELS, make_model
from popfusion.progress import fit_steps, progress_bar
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
    "external": ("external_",),
    "all": ("",),
}
EARLY_STOP_SHARE = 0.1


def feature_columns(columns: pd.Index, groups: list[str]) -> list[str]:
    """The columns of the named feature groups, in frame order."""
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise ValueError(f"unknown feature group(s) {unknown}; known: {', '.join(GROUPS)}")
    return list(_columns_of(tuple(columns.tolist()), tuple(groups)))


@functools.lru_cache(maxsize=64)
def _columns_of(columns: tuple[str, ...], groups: tuple[str, ...]) -> tuple[str, ...]:
    """Remembered: every prediction asks again for the same frame's columns."""
    prefixes = tuple(p for g in groups for p in GROUPS[g])
    return tuple(c for c in columns if c.startswith(prefixes))


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
class Stage:
    """What one stage's models learn from and predict: the labelled rows in time order
    (``X``, ``y``, their times and users), the rows to predict (``X_test``; which of them
    may be pseudo-labelled: ``pseudo_ok``), each post's text, which the text regressor
    reads instead of features, and each labelled row's weight in the models' losses
    (None: all equal; ``validation.weight: adversarial``)."""

    X: pd.DataFrame
    y: np.ndarray
    times: np.ndarray
    users: np.ndarray
    X_test: pd.DataFrame
    pseudo_ok: np.ndarray
    texts: pd.Series | None = None
    weight: np.ndarray | None = None

    def weights(self, pseudo: int) -> np.ndarray | None:
        """The labelled rows' weights followed by ``pseudo`` pseudo-labelled rows' (1)."""
        return None if self.weight is None else np.concatenate([self.weight, np.ones(pseudo)])


@dataclass
class Round:
    """One round of tier-1 fits: ``oof`` has every model's and tier's out-of-fold
    prediction of the labelled rows, ``test`` the same for the rows to predict; ``blend``
    was fitted on ``oof``'s tier-1 columns; per model, the folds' mean budget (a refit's
    and the final fit's), its fit seconds, its feature importance and what predicted
    ``test`` (``holdout_models``): the mean of its fold models, or its refit
    (``holdout_by: refit``)."""

    models: list[str]
    oof: pd.DataFrame
    test: pd.DataFrame
    blend: TieredBlend
    budgets: dict[str, dict]
    seconds: dict[str, float]
    importance: dict[str, pd.Series | None]
    holdout_models: dict[str, Model]


def blended(specs: list[Spec], models: dict[str, Model], target: LabelTransform, blend: TieredBlend,
            X: pd.DataFrame, texts: pd.Series | None = None) -> pd.DataFrame:
    """Every model's and tier's prediction of the rows of ``X``: each model on its feature
    groups' columns, back on the label's scale, read through ``blend``."""
    tier1 = {}
    for spec in specs:
        z = models[spec.name].predict(select(X, feature_columns(X.columns, spec.features)), texts=texts)
        tier1[spec.name] = target.inverse(np.asarray(z, float))
    return blend.predict(pd.DataFrame(tier1, index=X.index))


def blend_of(specs: list[Spec], fusion: str, mae_weight: float) -> TieredBlend:
    """An unfitted blend of ``specs``' predictions grouped by modality."""
    groups: dict[str, list[str]] = {}
    for spec in specs:
        groups.setdefault(modality(spec.features), []).append(spec.name)
    return TieredBlend(groups, fusion, mae_weight)


def with_columns(specs: list[Spec], columns: pd.Index) -> list[Spec]:
    """The specs whose feature groups have columns in this data: a preset's image model on
    posts without images, or its lexical model on posts without text, is skipped with a
    word instead of failing the run."""
    kept = [s for s in specs if feature_columns(columns, s.features)]
    for spec in specs:
        if spec not in kept:
            log.info("%s: no columns in feature groups %s in this data; not fitted", spec.name,
                     ", ".join(spec.features))
    if not kept:
        raise ValueError("no model has any feature columns in this data")
    return kept


def past(deadline: float | None) -> bool:
    """Whether a time limit's ``deadline`` (on ``time.monotonic``) has passed; None: none."""
    return deadline is not None and time.monotonic() > deadline


def confident(test: pd.DataFrame, used: list[str], ok: np.ndarray, share: float) -> np.ndarray:
    """Rows to predict where the tier-1 models a blend uses (``used``) agree most (lowest
    spread), among those allowed (``ok``); models the blend ignores would only add noise."""
    tier1 = test[used].to_numpy()
    spread = tier1.std(axis=1) if tier1.shape[1] > 1 else np.zeros(len(test))
    candidates = np.flatnonzero(ok)
    keep = candidates[np.argsort(spread[candidates], kind="stable")[: int(len(candidates) * share)]]
    chosen = np.zeros(len(test), bool)
    chosen[keep] = True
    return chosen


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
    prune: bool = True  # pseudo-label rounds fit only the models the last round's blend weighs
    deadline: float | None = None  # time.monotonic() after which no model starts fitting
    holdout_by: str = "folds"  # the fold models' mean predicts the rows to predict, or "refit"

    def fit(self, stage: Stage, pseudo_rounds: int = 0, pseudo_share: float = 0.3) -> Ensemble:
        """Round 0 on the labelled rows, then ``pseudo_rounds`` more, each adding the
        rows to predict where the last round's models agree most (and ``pseudo_ok``),
        labelled with its final blend."""
        self.target_ = LabelTransform(self.label_transform).fit(stage.y)
        self.fold_ = make_folds(stage.times, self.n_folds, self.scheme, stage.users, self.seed)
        active = with_columns(self.specs, stage.X.columns)
        self.rounds_: list[Round] = []
        chosen = np.zeros(len(stage.X_test), bool)
        for rnd in range(pseudo_rounds + 1):
            if rnd and past(self.deadline):
                log.warning("time limit: pseudo-label rounds %d to %d not run", rnd, pseudo_rounds)
                break
            if rnd and self.prune:
                active = self._pruned(active, self.rounds_[-1].blend.used())
            pseudo = self.rounds_[-1].test["final"].to_numpy()[chosen] if rnd else np.zeros(0)
            self.rounds_.append(self._fit_round(rnd, active, stage, chosen, pseudo))
            if rnd < pseudo_rounds:
                chosen = confident(self.rounds_[-1].test, self.rounds_[-1].blend.used(), stage.pseudo_ok,
                                   pseudo_share)
                log.info("pseudo-label round %d: %d confident posts join training", rnd + 1, chosen.sum())
        return self

    @staticmethod
    def _pruned(active: list[Spec], used: list[str]) -> list[Spec]:
        dropped = [s.name for s in active if s.name not in used]
        if dropped:
            log.info("the blend gives no weight to %s: the next round fits %s only", ", ".join(dropped),
                     ", ".join(used))
        return [s for s in active if s.name in used]

    def _fit_round(self, rnd: int, specs: list[Spec], stage: Stage, chosen: np.ndarray,
                   pseudo: np.ndarray) -> Round:
        """Every model's fold fits, then what predicts the rows to predict (``_forward``).
        Fits are submitted to the run's compute: here each runs when submitted; on a
        cluster every model's folds run at once, and a model's refit starts when its folds
        are in."""
        X_all = pd.concat([stage.X, stage.X_test[chosen]]) if chosen.any() else stage.X
        fold_all = np.concatenate([self.fold_, np.full(int(chosen.sum()), -1)])
        z_all = self.target_.transform(np.concatenate([stage.y, pseudo]))
        oof, test, budgets, seconds, importance, forward = {}, {}, {}, {}, {}, {}
        with progress_bar() as bar:
            per_model = self.n_folds + (self.holdout_by == "refit")
            task = bar.add_task(f"round {rnd}: models", total=len(specs) * per_model)
            advance = lambda _: bar.advance(task)  # noqa: E731
            fits_of, folds_of = {}, {}
            for spec in specs:
                if fits_of and past(self.deadline):  # the first model of a round always fits
                    log.warning("time limit: %s not fitted in round %d", spec.name, rnd)
                    continue
                cols = feature_columns(stage.X.columns, spec.features)
                fits = Fits(spec, select(X_all, cols), z_all, select(stage.X_test, cols), stage.texts,
                            self.seed, self.checkpoints, (rnd,), stage.weights(int(chosen.sum())))
                fits_of[spec.name] = fits
                folds_of[spec.name] = [fits.fit(f, *fold_rows(fold_all, f), done=advance, bar=bar)
                                       for f in range(self.n_folds)]
            forward_of = {}
            for name, fits in fits_of.items():
                models, spent = zip(*fits.compute.gather(folds_of[name]), strict=True)
                folds_of[name], seconds[name] = list(models), sum(spent)
                budgets[name] = mean_budget(folds_of[name])
                forward_of[name] = self._forward(fits, folds_of[name], budgets[name], advance, bar)
            for name, fits in fits_of.items():
                forward[name], spent = fits.compute.gather([forward_of[name]])[0]
                start = time.perf_counter()
                o = self._out_of_fold(fits, fold_all, folds_of[name])
                oof[name] = self.target_.inverse(o[: len(stage.X)])
                test[name] = self.target_.inverse(fits.predict(forward[name], fits.X_test))
                seconds[name] += spent + time.perf_counter() - start
                importance[name] = forward[name].feature_importance()
        specs = [s for s in specs if s.name in oof]
        tier1 = pd.DataFrame(oof, index=stage.X.index)
        blend = blend_of(specs, self.fusion, self.mae_weight).fit(tier1, stage.y)
        return Round([s.name for s in specs], blend.predict(tier1),
                     blend.predict(pd.DataFrame(test, index=stage.X_test.index)), blend, budgets, seconds,
                     importance, forward)

    def _forward(self, fits: Fits, folds: list[Model], budget: dict, advance: Callable, bar: Progress):
        """A future of (the model that predicts the rows to predict, its fit seconds): the
        mean of the fold models, or with ``holdout_by: refit`` a refit on every row with
        the folds' mean budget."""
        if self.holdout_by == "folds":
            return ready((FoldMean(folds), 0.0))
        log.info("%s: refit on all %d rows%s", fits.spec.name, len(fits.X), f" with {budget}" if budget else "")
        return fits.fit("all", np.arange(len(fits.X)), None, budget, done=advance, bar=bar)

    def _out_of_fold(self, fits: Fits, fold: np.ndarray, models: list[Model]) -> np.ndarray:
        oof = np.full(len(fold), np.nan)
        for f, model in enumerate(models):
            val = fold == f
            oof[val] = fits.predict(model, fits.X.iloc[np.flatnonzero(val)])
        return oof


def fold_rows(fold: np.ndarray, f: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows fold ``f``'s model fits on, and those it stops early on: the latest real
    (not pseudo-labelled) rows of its fitting side."""
    real = np.flatnonzero((fold != f) & (fold >= 0))
    stop_rows = real[-max(1, int(len(real) * EARLY_STOP_SHARE)):]
    return np.setdiff1d(np.flatnonzero(fold != f), stop_rows), stop_rows


class Fits:
    """Fits of one model kind on one stage's rows, each saved under a key of everything it
    read, so that a rerun reuses it and a change anywhere (a row, a label, a parameter,
    the model's code version) refits exactly the fits that read the change. Each fit is a
    task of the run's compute; its checkpoint is written here, where the run is."""

    def __init__(self, spec: Spec, X: pd.DataFrame, z: np.ndarray, X_test: pd.DataFrame,
                 texts: pd.Series | None, seed: int, checkpoints: Path | None, where: tuple,
                 weight: np.ndarray | None = None) -> None:
        self.spec, self.X, self.z, self.X_test, self.texts, self.weight = spec, X, z, X_test, texts, weight
        self.seed, self.checkpoints, self.where = seed, checkpoints, where
        self.inputs = _Inputs(X, X_test, texts) if checkpoints is not None else None
        self.compute = current()
        self.shared: tuple | None = None  # the frames, put once on the compute for every fit to read

    def fit(self, fold: int | str, train_rows: np.ndarray, stop_rows: np.ndarray | None,
            budget: dict | None = None, done: Callable | None = None, bar: Progress | None = None):
        """A future of (fitted model, seconds its fit took), from its checkpoint when one
        is saved (0 seconds); ``done`` is called once it is in. A fit in this process
        shows its rounds or epochs on ``bar``."""
        params = {**self.spec.params, **(budget or {})}
        path = None
        if self.inputs is not None:
            where = (*self.where, fold, self.seed)
            key = self.inputs.key(self.spec, params, where, self.z, train_rows, stop_rows, self.weight)
            path = self.checkpoints / f"{self.spec.name}-r{self.where[0]}-f{fold}-{key}.pkl"
            if path.exists():
                log.info("%s fold %s round %d: reused from %s", self.spec.name, fold, self.where[0], path.name)
                if done is not None:
                    done(None)
                return ready((Model.load(path), 0.0))
        kind = self.spec.model
        if "seed" in _params_of(kind):
            params["seed"] = self.seed
        if self.shared is None:
            self.shared = tuple(self.compute.put(v) for v in (self.X, self.X_test, self.texts))

        def finished(result: tuple[Model, float]) -> None:
            if path is not None:
                result[0].save(path)
            if done is not None:
                done(result)

        weight = None if self.weight is None else self.weight[train_rows]
        args = (fit_model, kind, params, *self.shared, self.z, train_rows, stop_rows, weight)
        if self.compute.distributed:  # the threads it would use here, so its result is the same bit for bit
            memory = 3 * int(self.X.memory_usage(index=False).sum())
            return self.compute.submit(*args, cpus=threads(), memory=memory, done=finished)
        label = f"{self.spec.name} {'refit' if fold == 'all' else f'fold {fold}'}"
        with fit_steps(bar, label) if bar is not None else nullcontext():
            return self.compute.submit(*args, done=finished)

    def predict(self, model: Model, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(model.predict(X, texts=self.texts), float)


def fit_model(kind: str, params: dict, X: pd.DataFrame, X_test: pd.DataFrame, texts: pd.Series | None,
              z: np.ndarray, train_rows: np.ndarray, stop_rows: np.ndarray | None,
              weight: np.ndarray | None = None) -> tuple[Model, float]:
    """One fit (a task): a ``kind`` model fitted on ``train_rows`` (each weighted by
    ``weight``, one per train row), stopping early on ``stop_rows``; with the seconds it
    took."""
    start = time.perf_counter()
    model = make_model(kind, params)
    X_val, z_val = (None, None) if stop_rows is None else (X.iloc[stop_rows], z[stop_rows])
    model.fit(_rows(X, train_rows), z[train_rows], X_val, z_val, unlabelled=X_test, texts=texts, weight=weight)
    return model, time.perf_counter() - start


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
            stop_rows: np.ndarray | None, weight: np.ndarray | None = None) -> str:
        digest = hashlib.sha256(repr((spec, params, where, MODELS[spec.model].version)).encode())
        digest.update(self.columns)
        for rows in (train_rows, stop_rows if stop_rows is not None else np.zeros(0, int)):
            digest.update(self.rows[rows].tobytes())
            digest.update(np.ascontiguousarray(z[rows]).tobytes())
        if weight is not None:  # unweighted fits keep the keys they had
            digest.update(np.ascontiguousarray(weight[train_rows], np.float64).tobytes())
        digest.update(self.others.digest())
        return digest.hexdigest()[:16]


def _params_of(kind: str) -> set[str]:
    return set(inspect.signature(MODELS[kind].__init__).parameters)


def select(X: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """``X[cols]`` without the copy when ``cols`` is every column (the `all` models): at
    full SMPD scale a copy of the training frame is over a gigabyte."""
    return X if len(cols) == X.shape[1] else X[cols]


def _rows(X: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """``X.iloc[rows]`` for sorted, distinct ``rows``; ``X`` itself, uncopied, when they
    are all of its rows (the refit)."""
    return X if len(rows) == len(X) else X.iloc[rows]


def mean_budget(models: list[Model]) -> dict[str, int]:
    """The folds' mean of every budget all of them report."""
    budgets = [m.budget() for m in models]
    shared = set.intersection(*(set(b) for b in budgets)) if budgets else set()
    return {k: max(1, round(float(np.mean([b[k] for b in budgets])))) for k in sorted(shared)}
