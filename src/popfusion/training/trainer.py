"""Training from feature frames to fused, drift-corrected predictions, in one place.

``validate`` runs on the validation stage's frame, where the latest share of training
time is held out with its labels hidden (from every feature block and every model, as
test labels are). The ensemble fits each model in time folds; the mean of its fold
models (or, with ``validation.holdout_by: refit``, a refit on every training row)
predicts the hold-out forward in time, and those predictions decide everything learned
from predictions: how many pseudo-label rounds help, the drift correction, the
final blend (its weights must hold on the out-of-fold predictions and on the hold-out's)
and, with ``fusion.prune``, which models the final fit needs. The hold-out scores reported
come from the validation blend, fitted on out-of-fold predictions alone, so they are
honest.

``finish`` runs on the final frame (every label) and fits each kept model once per
pseudo-label round on every labelled row, as long as its folds ran on average (trees,
epochs). It needs no folds: the blend was learned where its inputs were out of fold or
forward in time, and is applied as it is. Against the two fully folded stages this
replaces, that is ``folds + 1`` fits of a model instead of ``2 * (folds + 1)``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from popfusion import metrics
from popfusion.explain import Explanation, explain
from popfusion.features.base import DAY
from popfusion.fusion.blend import TieredBlend
from popfusion.models.base import Model
from popfusion.progress import progress_bar
from popfusion.recipe import Recipe
from popfusion.training.drift import DriftCorrection
from popfusion.training.ensemble import (
    Ensemble,
    Fits,
    Round,
    Spec,
    Stage,
    blend_of,
    blended,
    confident,
    feature_columns,
    past,
    select,
)
from popfusion.training.target import LabelTransform

log = logging.getLogger(__name__)
VALIDATION_SHARE = 0.7  # of a time limit, for features and the validation stage
HOLDOUT_SAMPLE = 10_000  # hold-out rows kept with the model, for permutation importance


@dataclass
class HoldOut:
    """The hold-out: rows of the validation stage's ``X_test`` (``index``), their labels,
    which that stage never read, and their posting days; ``info`` (post id, time,
    category) goes into the hold-out predictions for the report."""

    index: pd.Index
    y: np.ndarray
    days: np.ndarray
    info: pd.DataFrame


@dataclass
class Validation:
    """What the validation stage measured and decided."""

    scores: dict[str, dict]  # hold-out score of every model and tier, with bootstrap intervals
    oof_scores: dict[str, dict]  # out-of-fold scores on the training rows
    rounds: list[dict[str, float]]  # hold-out score of each pseudo-label round's blend
    pseudo_rounds: int  # the rounds the final fit runs: up to the best
    models: list[str]  # the models the final fit needs
    blend: TieredBlend  # the final blend, held to out-of-fold and hold-out predictions
    drift: DriftCorrection
    budgets: list[dict[str, dict]]  # per final round and model: the budget to fit with
    predictions: pd.DataFrame  # every model's and tier's hold-out prediction, with labels
    oof: pd.DataFrame  # out-of-fold predictions of the training rows, with labels
    seconds: dict[str, float]  # fit seconds per model, folds (and refit), every round
    importance: dict[str, pd.Series | None]
    holdout_X: pd.DataFrame  # features of (up to HOLDOUT_SAMPLE) hold-out rows, as that stage built them
    holdout_specs: list[Spec]  # the best round's models, as they predicted the hold-out
    holdout_models: dict[str, Model]  # fold means (or refits), read through holdout_blend
    holdout_blend: TieredBlend
    target: LabelTransform

    def predict_holdout(self, X: pd.DataFrame) -> pd.DataFrame:
        """What the validation stage's best round predicts for hold-out rows ``X`` (for
        permutation importance: models and blend that never saw a hold-out label)."""
        return blended(self.holdout_specs, self.holdout_models, self.target, self.holdout_blend, X)

    def explain_holdout(self, X: pd.DataFrame, times: np.ndarray, background: pd.DataFrame) -> Explanation:
        """The explanation of hold-out rows ``X`` by the models and blend that predicted
        them, which never saw a hold-out label (for the report's summary)."""
        return explain(self.holdout_specs, self.holdout_models, self.target, self.holdout_blend, self.drift,
                       X, times, background)


@dataclass
class Final:
    """The models fitted on every label, the blend and drift correction they are read
    through, and their predictions of the rows to predict (every kept model, every tier,
    ``final`` and ``final_drift``)."""

    specs: list[Spec]
    models: dict[str, Model]
    target: LabelTransform
    blend: TieredBlend
    drift: DriftCorrection
    test: pd.DataFrame
    seconds: dict[str, float]
    importance: dict[str, pd.Series | None]

    def predict(self, X: pd.DataFrame, times: np.ndarray, texts: pd.Series | None = None) -> pd.DataFrame:
        """Every kept model's, tier's and the drift-corrected final prediction of new rows."""
        out = blended(self.specs, self.models, self.target, self.blend, X, texts)
        days = np.asarray(times, float) / DAY
        return out.assign(final_drift=self.drift.apply(days, out["final"].to_numpy()))

    def explain(self, X: pd.DataFrame, times: np.ndarray, background: pd.DataFrame,
                texts: pd.Series | None = None) -> Explanation:
        """Every feature's contribution to the drift-corrected final score of rows ``X``
        (``popfusion.explain``); ``background``: rows that stand in for a feature the
        model-agnostic explainer hides."""
        return explain(self.specs, self.models, self.target, self.blend, self.drift, X, times, background,
                       texts)


class Trainer:
    """Validation, the decisions learned on it, and the final fit of one recipe."""

    def __init__(self, recipe: Recipe, checkpoints: Path | None = None,
                 time_limit: float | None = None) -> None:
        """``time_limit``: seconds from now for the whole fit; no model starts fitting in
        the validation stage after ``VALIDATION_SHARE`` of it, nor in the final fit after
        all of it (a fit under way is not stopped), and each one left out is named."""
        self.recipe = recipe
        self.checkpoints = checkpoints
        self.specs = [Spec(m.name, m.model, m.features, m.params) for m in recipe.models]
        start = time.monotonic()
        self.deadlines = (None, None) if time_limit is None else \
            (start + VALIDATION_SHARE * time_limit, start + time_limit)

    def _folder(self, stage: str) -> Path | None:
        return self.checkpoints / stage if self.checkpoints is not None else None

    def validate(self, stage: Stage, holdout: HoldOut) -> Validation:
        r = self.recipe
        ens = Ensemble(self.specs, n_folds=r.validation.folds, scheme=r.validation.scheme,
                       fusion=r.fusion.method, mae_weight=r.fusion.mae_weight,
                       label_transform=r.label_transform, seed=r.seed, checkpoints=self._folder("validation"),
                       prune=r.fusion.prune, deadline=self.deadlines[0],
                       holdout_by=r.validation.holdout_by).fit(stage, r.pseudo.rounds, r.pseudo.share)
        y = holdout.y
        rounds = [metrics.score(y, rnd.test.loc[holdout.index, "final"]) for rnd in ens.rounds_]
        best = int(np.argmax([s["src"] for s in rounds]))
        if best < len(rounds) - 1:
            log.info("pseudo-labels: %d of %d round(s) helped on the hold-out (SRC %s)", best, len(rounds) - 1,
                     ", ".join(f"{s['src']:.4f}" for s in rounds))
        kept = ens.rounds_[: best + 1]  # the rounds the final fit reruns
        best_round = kept[-1]
        preds = _latest([rnd.test.loc[holdout.index] for rnd in kept])
        drift = DriftCorrection(r.drift).fit(holdout.days, y, preds["final"].to_numpy())
        preds = preds.assign(final_drift=drift.apply(holdout.days, preds["final"].to_numpy()))
        blend, models = self._final_blend(best_round, stage.y, (preds, y))
        oof = _latest([rnd.oof for rnd in kept]).assign(label=stage.y)
        return Validation(
            scores={c: self._scores(y, preds[c].to_numpy()) for c in preds.columns},
            oof_scores={c: metrics.score(stage.y, oof[c]) for c in oof.columns if c != "label"},
            rounds=rounds, pseudo_rounds=best, models=models, blend=blend, drift=drift,
            budgets=[{m: _latest_budget(ens.rounds_[: i + 1], m) for m in models} for i in range(best + 1)],
            predictions=preds.assign(label=y, **{c: holdout.info[c].to_numpy() for c in holdout.info}),
            oof=oof, seconds=_summed([rnd.seconds for rnd in ens.rounds_]),
            importance=_latest_dicts([rnd.importance for rnd in ens.rounds_]),
            holdout_X=stage.X_test.loc[holdout.index].sample(min(len(holdout.index), HOLDOUT_SAMPLE),
                                                              random_state=0).sort_index(),
            holdout_specs=[s for s in self.specs if s.name in best_round.models],
            holdout_models=best_round.holdout_models, holdout_blend=best_round.blend, target=ens.target_)

    def _final_blend(self, last: Round, y: np.ndarray,
                     forward: tuple[pd.DataFrame, np.ndarray]) -> tuple[TieredBlend, list[str]]:
        """The blend the final models are read through, fitted on the round's out-of-fold
        predictions and (with ``fusion.forward``) held to its forward-in-time hold-out
        predictions: time folds' out-of-fold predictions are partly backward in time and
        see fresher user histories, so alone they overrate models that lean on a user's
        newest labels. With ``fusion.prune``, the models it gives weight to, and the
        blend refitted on them alone (the same weights: greedy selection never picked the
        others)."""
        blend = self._blend(last.models, last.oof, y, forward)
        if not self.recipe.fusion.prune:
            return blend, last.models
        used = [m for m in last.models if m in blend.used()]
        return (blend if used == last.models else self._blend(used, last.oof, y, forward)), used

    def _blend(self, names: list[str], oof: pd.DataFrame, y: np.ndarray,
               forward: tuple[pd.DataFrame, np.ndarray]) -> TieredBlend:
        """A blend of the ``names`` models fitted on their out-of-fold predictions and, with
        ``fusion.forward``, held to their forward-in-time hold-out predictions."""
        r = self.recipe
        specs = [s for s in self.specs if s.name in names]
        view = (forward[0][names], forward[1]) if r.fusion.forward else None
        return blend_of(specs, r.fusion.method, r.fusion.mae_weight).fit(oof[names], y, view)

    def _scores(self, y: np.ndarray, pred: np.ndarray) -> dict:
        n = self.recipe.bootstrap
        if n:
            return metrics.bootstrap(y, pred, n=n, seed=self.recipe.seed)
        return {m: {"value": v} for m, v in metrics.score(y, pred).items()}

    def finish(self, stage: Stage, validation: Validation, test_times: np.ndarray) -> Final:
        """Each model ``validation`` kept, fitted once a round on every labelled row of
        the final stage; the rows to predict read through its blend and drift correction."""
        r = self.recipe
        specs = [s for s in self.specs if s.name in validation.models]
        target = LabelTransform(r.label_transform).fit(stage.y)
        blend = validation.blend

        chosen, pseudo = np.zeros(len(stage.X_test), bool), np.zeros(0)
        seconds: dict[str, float] = {}
        with progress_bar() as bar:
            task = bar.add_task("final fit", total=len(specs) * (validation.pseudo_rounds + 1))
            for rnd, budgets in enumerate(validation.budgets):
                if rnd and past(self.deadlines[1]):
                    log.warning("time limit: final pseudo-label rounds %d to %d not run", rnd,
                                validation.pseudo_rounds)
                    break
                X = pd.concat([stage.X, stage.X_test[chosen]]) if chosen.any() else stage.X
                z = target.transform(np.concatenate([stage.y, pseudo]))
                submitted = {}  # every kept model's fit, at once on a cluster
                for spec in specs:
                    if submitted and past(self.deadlines[1]):  # the first model of a round always fits
                        log.warning("time limit: %s not fitted on every label; the blend does without it",
                                    spec.name)
                        continue
                    cols = feature_columns(stage.X.columns, spec.features)
                    fits = Fits(spec, select(X, cols), z, select(stage.X_test, cols), stage.texts, r.seed,
                                self._folder("final"), (rnd,), stage.weights(int(chosen.sum())))
                    submitted[spec.name] = fits, fits.fit("all", np.arange(len(X)), None, budgets[spec.name],
                                                          done=lambda _: bar.advance(task), bar=bar)
                fitted, tier1 = {}, {}
                for name, (fits, future) in submitted.items():
                    fitted[name], spent = fits.compute.gather([future])[0]
                    start = time.perf_counter()
                    tier1[name] = target.inverse(fits.predict(fitted[name], fits.X_test))
                    seconds[name] = seconds.get(name, 0.0) + spent + time.perf_counter() - start
                if len(fitted) < len(specs):
                    if rnd:
                        break  # a pseudo-label round cut short: keep the round before it
                    specs = [s for s in specs if s.name in fitted]
                    hold = validation.predictions  # refitted on the models the time limit let through
                    blend = self._blend([s.name for s in specs], validation.oof,
                                        validation.oof["label"].to_numpy(), (hold, hold["label"].to_numpy()))
                models = fitted
                test = blend.predict(pd.DataFrame(tier1, index=stage.X_test.index))
                if rnd < validation.pseudo_rounds:
                    chosen = confident(test, blend.used(), stage.pseudo_ok, r.pseudo.share)
                    pseudo = test["final"].to_numpy()[chosen]
                    log.info("final pseudo-label round %d: %d confident posts join training", rnd + 1,
                             chosen.sum())
        days = np.asarray(test_times, float) / DAY
        test = test.assign(final_drift=validation.drift.apply(days, test["final"].to_numpy()))
        return Final(specs, models, target, blend, validation.drift, test, seconds,
                     {name: m.feature_importance() for name, m in models.items()})


def _latest(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Every column of ``frames`` (same index), each from the last frame that has it."""
    return pd.DataFrame(_latest_dicts([dict(frame.items()) for frame in frames]))


def _latest_dicts(dicts: list[dict]) -> dict:
    """Every key of ``dicts``, each with its value in the last dict that has it."""
    out: dict = {}
    for d in dicts:
        out.update(d)
    return out


def _latest_budget(rounds: list[Round], name: str) -> dict:
    """A model's budget in the last of ``rounds`` that fitted it (a pruned round did not)."""
    return next(rnd.budgets[name] for rnd in reversed(rounds) if name in rnd.budgets)


def _summed(dicts: list[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0.0) + v
    return out
