"""The Python API: one façade from a recipe to fused, drift-corrected predictions.

    model = PopFusion.from_recipe("sample").fit(posts)
    scores = model.predict(new_posts)

``fit`` runs two stages. The validation stage hides the last share of training time
(its labels become unknown, as test labels are) and measures every model and tier on it;
the drift correction is learned there, and so is how many pseudo-label rounds help and
(with ``fusion.prune``) which models earn a weight in the blend. The final stage refits
those on every label and predicts the test posts. Fitted state lives in attributes ending
in ``_``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from popfusion import metrics
from popfusion.atomic import load_pickle, save_pickle
from popfusion.data.schema import check_trainable
from popfusion.data.synthetic import cache_dir as default_cache
from popfusion.features.base import DAY, labelled_mask, utc_seconds
from popfusion.features.pipeline import applicable, build_features, make_block
from popfusion.fusion.blend import TieredBlend
from popfusion.recipe import Recipe, check, load_recipe
from popfusion.training.drift import DriftCorrection
from popfusion.training.ensemble import Ensemble, Spec
from popfusion.training.splits import chronological_holdout

log = logging.getLogger(__name__)

FORMAT = 2  # of a saved PopFusion; bump it when a change would break predicting with an older one


class PopFusion:
    def __init__(self, recipe: Recipe, cache_dir: str | Path | None = None,
                 checkpoints: str | Path | None = None) -> None:
        if not recipe.models:
            raise ValueError(f"recipe {recipe.name} names no models")
        self.recipe = check(recipe)
        self.cache_dir = Path(cache_dir or recipe.cache_dir or default_cache() / "features")
        self.checkpoints = Path(checkpoints) if checkpoints is not None else None

    @classmethod
    def from_recipe(cls, name_or_path: str | Path, **kwargs) -> PopFusion:
        return cls(load_recipe(name_or_path), **kwargs)

    # -- fitting ------------------------------------------------------------------------------

    def fit(self, posts: pd.DataFrame) -> PopFusion:
        check_trainable(posts)
        posts = posts.reset_index(drop=True)
        labelled = labelled_mask(posts)
        holdout = np.zeros(len(posts), bool)
        holdout[np.flatnonzero(labelled)] = chronological_holdout(
            utc_seconds(posts.loc[labelled, "posted_at"]), self.recipe.validation.holdout)
        log.info("validation stage: %d training posts, %d held out (latest %.0f%%)",
                 (labelled & ~holdout).sum(), holdout.sum(), 100 * self.recipe.validation.holdout)
        hidden = posts.assign(split=np.where(holdout, "test", posts["split"]),
                              label=posts["label"].where(~holdout))
        is_test = (posts["split"] == "test").to_numpy()
        val = self._stage(hidden, "validation", is_test, self.recipe.pseudo.rounds, fitted=False)
        self._validate(posts, holdout, val)
        del val, hidden  # what the final stage needs is in the attributes `_validate` set
        log.info("final stage: %d training posts, %d pseudo-label round(s), models %s", labelled.sum(),
                 self.pseudo_rounds_, ", ".join(self.final_models_))
        final = self._stage(posts, "final", is_test, self.pseudo_rounds_, fitted=True,
                            models=self.final_models_)
        if self.recipe.fusion.forward:
            final["ensemble"].reblend(*self.forward_)
        self.weights_ = final["ensemble"].blend_.describe()
        self.blocks_ = final["blocks"]
        self.ensemble_ = final["ensemble"]
        self.oof_ = final["ensemble"].oof_.assign(label=posts.loc[final["train"], "label"].to_numpy())
        test = final["ensemble"].test_
        days = _days(posts.loc[test.index, "posted_at"])
        test["final_drift"] = self.drift_.apply(days, test["final"].to_numpy())
        self.test_predictions_ = test.assign(post_id=posts.loc[test.index, "post_id"].to_numpy())
        self.n_posts_ = len(posts)
        self.oof_metrics_ = {c: metrics.score(self.oof_["label"], self.oof_[c])
                             for c in self.oof_.columns if c != "label"}
        return self

    def _stage(self, posts: pd.DataFrame, stage: str, pseudo_ok: np.ndarray, rounds: int, fitted: bool,
               models: list[str] | None = None) -> dict:
        """Features and the ensemble of one stage; ``models``: the recipe's models to fit
        (default all)."""
        blocks = applicable(posts, [make_block(b.block, b.params) for b in self.recipe.features])
        frame, results = build_features(posts, blocks, self.cache_dir, fitted)
        self.feature_summary_ = [vars(r) for r in results]
        train = labelled_mask(posts)
        order = np.flatnonzero(train)[np.argsort(utc_seconds(posts.loc[train, "posted_at"]), kind="stable")]
        rest = np.flatnonzero(~train)
        self.columns_ = list(frame.columns)
        X, X_test = frame.iloc[order], frame.iloc[rest]
        del frame  # the two slices are copies; at full SMPD scale each frame is gigabytes
        r = self.recipe
        ensemble = Ensemble(
            specs=[Spec(m.name, m.model, m.features, m.params) for m in r.models
                   if models is None or m.name in models],
            n_folds=r.validation.folds, scheme=r.validation.scheme, fusion=r.fusion.method,
            mae_weight=r.fusion.mae_weight, label_transform=r.label_transform, seed=r.seed,
            checkpoints=self.checkpoints / stage if self.checkpoints else None,
            texts=_texts(posts), refit=r.validation.refit, prune=r.fusion.prune,
        ).fit(X, posts["label"].to_numpy(float)[order], utc_seconds(posts["posted_at"].iloc[order]),
              posts["user_id"].to_numpy()[order], X_test, rounds, r.pseudo.share, pseudo_ok[rest])
        return {"ensemble": ensemble, "train": order, "blocks": blocks}

    def _validate(self, posts: pd.DataFrame, holdout: np.ndarray, stage: dict) -> None:
        """The score of each pseudo-label round on the hold-out; the final stage runs the
        rounds up to the best one (none if no round beat the models without pseudo-labels),
        so the drift correction and every model's and tier's hold-out score come from those
        rounds, not from a later, worse one.

        The tier-1 models' hold-out predictions of that round are kept (``forward_``): with
        ``fusion.forward`` the final stage's blend weights must hold on them as well as on
        its out-of-fold predictions. Those are made forward in time, as test predictions
        are; time folds' out-of-fold predictions are partly backward in time and see
        fresher user histories, so alone they overrate models that lean on a user's newest
        labels. With ``fusion.prune`` the final stage fits only the models that round's
        blend, held to the same two views, gives weight to (``final_models_``)."""
        ens = stage["ensemble"]
        rows = np.flatnonzero(holdout)
        y = posts["label"].to_numpy(float)[rows]
        self.rounds_ = [metrics.score(y, r.loc[rows, "final"]) for r in ens.rounds_]
        best = self.pseudo_rounds_ = int(np.argmax([r["src"] for r in self.rounds_]))
        if best < len(self.rounds_) - 1:
            log.info("pseudo-labels: %d of %d round(s) helped on the hold-out (SRC %s)", best,
                     len(self.rounds_) - 1, ", ".join(f"{r['src']:.4f}" for r in self.rounds_))
        # the rounds the final stage reruns; a model pruned from one is taken from its last
        preds = _latest([r.loc[rows] for r in ens.rounds_[:best + 1]])
        days = _days(posts.loc[rows, "posted_at"])
        self.drift_ = DriftCorrection(self.recipe.drift).fit(days, y, preds["final"].to_numpy())
        preds = preds.assign(final_drift=self.drift_.apply(days, preds["final"].to_numpy()))
        n = self.recipe.bootstrap
        self.validation_ = {c: metrics.bootstrap(y, preds[c].to_numpy(), n=n, seed=self.recipe.seed)
                            if n else {m: {"value": v} for m, v in metrics.score(y, preds[c]).items()}
                            for c in preds.columns}
        tier1 = list(ens.round_oof_[best].columns)
        self.forward_ = (ens.rounds_[best].loc[rows, tier1], y)
        y_train = posts["label"].to_numpy(float)[stage["train"]]
        self.final_models_ = self._weighed(ens.blend(tier1), ens.round_oof_[best], y_train)
        self.holdout_predictions_ = preds.assign(
            post_id=posts["post_id"].to_numpy()[rows], label=y, posted_at=posts["posted_at"].to_numpy()[rows],
            **({"category": posts["category"].to_numpy()[rows]} if "category" in posts else {}))
        self.importance_ = ens.importance_
        oof = _latest([*ens.round_oof_, ens.oof_])
        self.validation_oof_ = {c: metrics.score(y_train, oof[c]) for c in oof.columns}

    def _weighed(self, blend: TieredBlend, oof: pd.DataFrame, y: np.ndarray) -> list[str]:
        """The models the final stage fits: with ``fusion.prune``, those ``blend`` gives
        weight to when it learns, as the final stage's blend will, from out-of-fold
        predictions (``oof``, labels ``y``) and, with ``fusion.forward``, the hold-out's."""
        if not self.recipe.fusion.prune:
            return list(oof.columns)
        return blend.fit(oof, y, self.forward_ if self.recipe.fusion.forward else None).used()

    # -- predicting ---------------------------------------------------------------------------

    def predict(self, posts: pd.DataFrame) -> pd.Series:
        """Drift-corrected final scores for new posts, indexed like ``posts``, from the
        feature blocks as fitted on the training posts; labels of the new posts, if any,
        are not read."""
        X = self.features(posts)
        self.ensemble_.texts = _texts(posts)
        preds = self.ensemble_.predict(X)
        return pd.Series(self.drift_.apply(_days(posts["posted_at"]), preds["final"].to_numpy()),
                         index=posts.index, name="popularity_score")

    def features(self, posts: pd.DataFrame) -> pd.DataFrame:
        """The feature frame the models see for new posts (their labels unread)."""
        new = posts.assign(split="test", label=np.nan)
        X = pd.concat([block.transform(new) for block in self.blocks_], axis=1)
        return X.reindex(columns=self.columns_)  # a column the new data cannot give stays missing

    # -- persistence --------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        self.format_ = FORMAT
        return save_pickle(self, path)

    @staticmethod
    def load(path: str | Path) -> PopFusion:
        """The model saved at ``path``; one saved in another format cannot predict, and
        says so instead of failing on a missing attribute half way through."""
        model = load_pickle(path, PopFusion)
        saved = getattr(model, "format_", 1)  # models saved before formats were numbered
        if saved != FORMAT:
            raise ValueError(f"{path} holds a model saved in format {saved}; this popfusion reads format "
                             f"{FORMAT}. Rerun `popfusion run` on its data: the feature cache and the "
                             "finished models' checkpoints are reused")
        return model


def _latest(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Every column of ``frames`` (same index), each from the last frame that has it."""
    columns: dict[str, pd.Series] = {}
    for frame in frames:
        columns.update(frame.items())
    return pd.DataFrame(columns)


def _days(times: pd.Series) -> np.ndarray:
    return utc_seconds(times) / DAY


def _texts(posts: pd.DataFrame) -> pd.Series:
    from popfusion.features.text import field_texts

    return field_texts(posts, "joined")
