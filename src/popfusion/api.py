"""The Python API: one façade from a recipe to fused, drift-corrected predictions.

    model = PopFusion.from_recipe("sample").fit(posts)
    scores = model.predict(new_posts)

``fit`` builds the features of two stages and hands them to the trainer
(``training.trainer``). The validation stage hides the last share of training time (its
labels become unknown, as test labels are); every model and tier is scored on it, and
the pseudo-label rounds, the drift correction, the blend and (with ``fusion.prune``) the
models to keep are learned there. The final stage fits the kept models once on every
label and predicts the test posts. Fitted state lives in attributes ending in ``_``:
``validation_`` and ``final_`` are the trainer's typed results.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from popfusion import metrics
from popfusion.advice import Advice, local_times
from popfusion.atomic import load_pickle, save_pickle
from popfusion.compute import running
from popfusion.data.columns import infer_types, with_kinds
from popfusion.data.schema import check_trainable
from popfusion.data.synthetic import cache_dir as default_cache
from popfusion.explain import BACKGROUND, Explanation
from popfusion.features.base import DAY, FeatureBlock, labelled_mask, utc_seconds
from popfusion.features.pipeline import applicable, build_features, make_block
from popfusion.features.store import one_at_a_time
from popfusion.importance import permutation_drop
from popfusion.names import family
from popfusion.recipe import Recipe, check, load_recipe
from popfusion.training.ensemble import Stage
from popfusion.training.splits import chronological_holdout
from popfusion.training.trainer import HoldOut, Trainer

log = logging.getLogger(__name__)

FORMAT = 4  # of a saved PopFusion; bump it when a change would break predicting with an older one


class PopFusion(BaseEstimator):
    """The whole system as one scikit-learn style estimator: parameters in ``__init__``
    (kept as given, so ``get_params``, ``set_params`` and ``sklearn.base.clone`` work),
    fitted state in attributes ending in ``_``."""

    def __init__(self, recipe: Recipe, cache_dir: str | Path | None = None,
                 checkpoints: str | Path | None = None) -> None:
        if not recipe.models:
            raise ValueError(f"recipe {recipe.name} names no models")
        self.recipe = check(recipe)
        self.cache_dir = cache_dir
        self.checkpoints = checkpoints

    def __repr__(self) -> str:
        if not hasattr(self, "final_"):
            return f"PopFusion(recipe={self.recipe.name!r}, unfitted)"
        final = self.validation_.scores["final_drift"]
        return (f"PopFusion(recipe={self.recipe.name!r}, {self.n_posts_:,} posts, models "
                f"{', '.join(self.validation_.models)}, hold-out SRC {final['src']['value']:.4f} "
                f"MAE {final['mae']['value']:.4f})")

    def _cache(self) -> Path:
        return Path(self.cache_dir or self.recipe.cache_dir or default_cache() / "features")

    @classmethod
    def from_recipe(cls, name_or_path: str | Path, **kwargs) -> PopFusion:
        return cls(load_recipe(name_or_path), **kwargs)

    # -- fitting ------------------------------------------------------------------------------

    def fit(self, posts: pd.DataFrame, time_limit: float | None = None) -> PopFusion:
        """Train on ``posts`` (labelled rows train, the rest are predicted). With
        ``time_limit`` (seconds, features included), models that would start after it are
        left out and named in the log (70% of it for the validation stage); a fit under way
        is not stopped, so a run can overrun by its longest single fit."""
        check_trainable(posts)
        posts = posts.reset_index(drop=True)
        labelled = labelled_mask(posts)
        holdout = np.zeros(len(posts), bool)
        holdout[np.flatnonzero(labelled)] = chronological_holdout(
            utc_seconds(posts.loc[labelled, "posted_at"]), self.recipe.validation.holdout)
        log.info("validation stage: %d training posts, %d held out (latest %.0f%%)",
                 (labelled & ~holdout).sum(), holdout.sum(), 100 * self.recipe.validation.holdout)
        compute = self.recipe.compute
        with running(compute.ray, compute.retries, compute.cpus):  # embeddings and fits go there
            self._fit_stages(posts, holdout, labelled, time_limit)
        return self

    def _fit_stages(self, posts: pd.DataFrame, holdout: np.ndarray, labelled: np.ndarray,
                    time_limit: float | None) -> None:
        """The validation stage with the hold-out's labels hidden, then the final stage
        on every label."""
        hidden = posts.assign(split=np.where(holdout, "test", posts["split"]),
                              label=posts["label"].where(~holdout))
        weights = self._adversarial_weights(posts) if self.recipe.validation.weight == "adversarial" else None
        is_test = (posts["split"] == "test").to_numpy()
        checkpoints = Path(self.checkpoints) if self.checkpoints is not None else None
        trainer = Trainer(self.recipe, checkpoints, time_limit)
        clock = _Clock()
        self.feature_summary_: dict[str, list[dict]] = {}
        stage, _ = self._stage(hidden, is_test, False, weights)
        clock.lap("validation features")
        self.validation_ = trainer.validate(stage, _holdout(posts, holdout))
        clock.lap("validation models")
        del stage, hidden  # at full SMPD scale each stage's frame is gigabytes
        log.info("final stage: %d training posts, %d pseudo-label round(s), models %s", labelled.sum(),
                 self.validation_.pseudo_rounds, ", ".join(self.validation_.models))
        stage, self.blocks_ = self._stage(posts, is_test, True, weights)
        clock.lap("final features")
        test_rows = stage.X_test.index
        self.final_ = trainer.finish(stage, self.validation_, utc_seconds(posts.loc[test_rows, "posted_at"]))
        clock.lap("final models")
        self.stage_seconds_ = clock.laps
        self.test_predictions_ = self.final_.test.assign(post_id=posts.loc[test_rows, "post_id"].to_numpy(),
                                                         posted_at=posts.loc[test_rows, "posted_at"].to_numpy())
        known = ["post_id", "user_id", "posted_at", "label"]
        self.train_labels_ = posts.loc[labelled, known].reset_index(drop=True)
        self.n_posts_ = len(posts)
        self.input_columns_ = [c for c in posts.columns if c not in ("split", "label")]
        self.column_kinds_ = infer_types(posts)

    def _adversarial_weights(self, posts: pd.DataFrame) -> pd.Series:
        """Each training post's weight by how much it looks like the posts to predict, from
        a classifier on label-free features alone (``popfusion.adversarial``), so the
        hold-out's labels stay unread; by post id."""
        from popfusion.adversarial import adversarial, likeness_weights

        found = adversarial(posts, self.recipe, self._cache(), seed=self.recipe.seed)
        weights = likeness_weights(found.test_likeness)
        log.info("adversarial weights (AUC %.3f): %.2f to %.2f, effective training posts %d of %d", found.auc,
                 weights.min(), weights.max(), round(weights.sum() ** 2 / (weights**2).sum()), len(weights))
        return weights

    def _stage(self, posts: pd.DataFrame, pseudo_ok: np.ndarray, fitted: bool,
               weights: pd.Series | None) -> tuple[Stage, list[FeatureBlock]]:
        """One stage's features, split into labelled rows in time order and the rest, with
        the labelled rows' ``weights`` (by post id; None: equal); the blocks' summaries
        (columns, seconds, cache hits) by stage in ``feature_summary_``."""
        blocks = applicable(posts, [make_block(b.block, b.params) for b in self.recipe.features])
        frame, results = build_features(posts, blocks, self._cache(), fitted)
        self.feature_summary_["final" if fitted else "validation"] = [vars(r) for r in results]
        self.columns_ = list(frame.columns)
        train = labelled_mask(posts)
        order = np.flatnonzero(train)[np.argsort(utc_seconds(posts.loc[train, "posted_at"]), kind="stable")]
        rest = np.flatnonzero(~train)
        times = utc_seconds(posts["posted_at"].iloc[order])
        ids = posts["post_id"].iloc[order]
        weight = None if weights is None else weights.reindex(ids).fillna(1.0).to_numpy()
        stage = Stage(frame.iloc[order], posts["label"].to_numpy(float)[order], times,
                      posts["user_id"].to_numpy()[order], frame.iloc[rest], pseudo_ok[rest], _texts(posts),
                      weight)
        return stage, blocks

    # -- predicting ---------------------------------------------------------------------------

    def predict(self, posts: pd.DataFrame) -> pd.Series:
        """Drift-corrected final scores for new posts, indexed like ``posts``, from the
        feature blocks as fitted on the training posts; labels of the new posts, if any,
        are not read."""
        X, times = self.features(posts), utc_seconds(posts["posted_at"])
        preds = self.final_.predict(X, times, self._texts(posts))
        return preds["final_drift"].rename("popularity_score")

    def explain(self, posts: pd.DataFrame) -> Explanation:
        """Why each post gets its score: every feature's contribution (and by family:
        ``.by_family()``) to the drift-corrected final score, which the base value plus
        the contributions equals. Features a model-agnostic explainer hides are filled
        from hold-out posts."""
        return self.final_.explain(self.features(posts), utc_seconds(posts["posted_at"]), self._background(),
                                   self._texts(posts))

    def explain_holdout(self, rows: int = 500) -> Explanation:
        """The explanation of (up to ``rows``) hold-out posts by the validation stage's
        models, which never saw their labels: how each family moves scores on posts the
        models did not learn from."""
        X = self.validation_.holdout_X
        X = X.sample(min(rows, len(X)), random_state=self.recipe.seed).sort_index()
        times = self.validation_.predictions["posted_at"].reindex(X.index)
        return self.validation_.explain_holdout(X, utc_seconds(times), self._background())

    def _texts(self, posts: pd.DataFrame) -> pd.Series:
        """New posts' joined text, from the text columns training read."""
        return _texts(with_kinds(posts, self.column_kinds_))

    def _background(self) -> pd.DataFrame:
        X = self.validation_.holdout_X
        return X.sample(min(BACKGROUND, len(X)), random_state=self.recipe.seed)

    def screen(self, posts: pd.DataFrame) -> dict[str, int]:
        """What new posts look like next to the training data: how many were among the
        labelled training posts (the same post id, user and time: their scores would be
        in-sample, not predictions), how many come from users the training data never saw
        (no history to go on), and how many lack each optional field."""
        trained = _post_keys(posts).isin(_post_keys(self.train_labels_))
        known_users = posts["user_id"].astype(str).isin(self.train_labels_["user_id"].astype(str))
        counts = {"posts": len(posts), "in_training": int(trained.sum()),
                  "unknown_users": int((~known_users).sum())}
        for column in ("title", "tags", "category", "latitude", "image_path"):
            if column in posts:
                empty = posts[column].isna() | (posts[column].astype(str).str.strip() == "")
                counts[f"missing_{column}"] = int(empty.sum())
        return counts

    def features(self, posts: pd.DataFrame, blocks: list[FeatureBlock] | None = None) -> pd.DataFrame:
        """The feature frame the models see for new posts (their labels unread); with
        ``blocks``, only those blocks' columns. Embeddings are encoded a post at a time, so
        a post's features, and so its score, do not depend on the posts given with it."""
        new = with_kinds(posts.assign(split="test", label=np.nan), self.column_kinds_)
        with one_at_a_time():
            X = pd.concat([block.transform(new) for block in blocks or self.blocks_], axis=1)
        if blocks is not None:
            return X
        return X.reindex(columns=self.columns_)  # a column the new data cannot give stays missing

    def advise(self, post: pd.DataFrame, hours: int = 168, start: pd.Timestamp | None = None) -> Advice:
        """The expected score of one post (a one-row frame) at each of the ``hours`` whole
        hours from ``start`` (default: the post's own time), against its own time.
        Only the posting-time features change (``advice``); the author's history stays
        as it is at the moment of asking."""
        if len(post) != 1:
            raise ValueError(f"advise takes one post at a time, not {len(post)}")
        X0 = self.features(post)
        own_time = post["posted_at"].iloc[0]
        own = self.final_.predict(X0, utc_seconds(post["posted_at"]), self._texts(post))["final_drift"].iloc[0]
        times = pd.date_range(pd.Timestamp(start or own_time).ceil("h"), periods=hours, freq="h")
        moved = post.loc[post.index.repeat(hours)].reset_index(drop=True).assign(posted_at=times)
        timed = [c for c in self.columns_ if family(c) == "time"]
        X = X0.loc[X0.index.repeat(hours)].reset_index(drop=True)
        blocks = [b for b in self.blocks_ if any(c.startswith(f"{b.name}_") for c in timed)]
        if blocks:
            X[timed] = self.features(moved, blocks).reindex(columns=timed).to_numpy()
        scores = self.final_.predict(X, utc_seconds(moved["posted_at"]), self._texts(moved))["final_drift"]
        local, zone = local_times(post.iloc[0], times)
        curve = pd.DataFrame({"posted_at": times, "local_time": local, "score": scores.to_numpy(),
                              "gain": scores - own})
        return Advice(str(post["post_id"].iloc[0]), own_time, float(own), zone, curve)

    # -- looking inside ------------------------------------------------------------------------

    def leaderboard(self) -> pd.DataFrame:
        """Every model and tier, best hold-out SRC first: hold-out and out-of-fold scores
        (the hold-out's labels were never read by a feature or model of the validation
        stage; out-of-fold is on the training rows), fit seconds in each stage, and each
        model's share of the blend the hold-out scores came from (``holdout_weight``)
        and of the final blend the test posts are read through (``blend_weight``)."""
        v = self.validation_
        share, held = _shares(v.blend), _shares(v.holdout_blend)
        rows = []
        for name, s in v.scores.items():
            oof = v.oof_scores.get(name, {})
            rows.append({"model": name, "holdout_src": s["src"]["value"], "holdout_mae": s["mae"]["value"],
                         "holdout_src_low": s["src"].get("low"), "holdout_src_high": s["src"].get("high"),
                         "oof_src": oof.get("src"), "oof_mae": oof.get("mae"),
                         "fit_seconds_validation": v.seconds.get(name),
                         "fit_seconds_final": self.final_.seconds.get(name),
                         "holdout_weight": held.get(name), "blend_weight": share.get(name),
                         "final_fit": name in v.models})
        return pd.DataFrame(rows).sort_values("holdout_src", ascending=False, ignore_index=True)

    def evaluate(self, posts: pd.DataFrame) -> dict[str, dict[str, float]]:
        """SRC, MAE, Pearson and RMSE of the predictions for labelled ``posts``, with 95%
        bootstrap intervals; unlabelled posts are left out (say how many in the log)."""
        labelled = posts["label"].notna().to_numpy()
        if not labelled.any():
            raise ValueError("evaluate needs posts with labels; none of these has one")
        if not labelled.all():
            log.info("evaluate: %d of %d posts have no label and are not scored", (~labelled).sum(), len(posts))
        pred = self.predict(posts[labelled])
        return metrics.bootstrap(posts.loc[labelled, "label"].to_numpy(float), pred.to_numpy(),
                                 n=self.recipe.bootstrap or 200, seed=self.recipe.seed)

    def feature_importance(self, posts: pd.DataFrame | None = None, by: str = "feature", top: int = 30,
                           repeats: int = 5, rows: int = 5000) -> pd.DataFrame:
        """Permutation importance on one scale for every model: how much the final
        prediction's SRC drops when a feature's values (``by="feature"``: the ``top``
        features the models weigh most) or a whole family's (``by="family"``) are shuffled
        among the posts, ``repeats`` times, with the mean drop and a 95% interval over the
        repeats. By default on the hold-out, through the validation stage's models, which
        never saw a hold-out label; or on labelled ``posts`` through the final models
        (posts they were not trained on, or the numbers are in-sample)."""
        if by not in ("feature", "family"):
            raise ValueError(f"by={by!r}: give 'feature' or 'family'")
        if posts is None:
            X = self.validation_.holdout_X
            y = self.validation_.predictions["label"].reindex(X.index).to_numpy(float)

            def predict(frame: pd.DataFrame) -> np.ndarray:
                return self.validation_.predict_holdout(frame)["final"].to_numpy()
        else:
            posts = posts[posts["label"].notna()]
            X, y = self.features(posts), posts["label"].to_numpy(float)
            times, texts = utc_seconds(posts["posted_at"]), self._texts(posts)

            def predict(frame: pd.DataFrame) -> np.ndarray:
                return self.final_.predict(frame, times, texts)["final"].to_numpy()
        if len(X) > rows:
            keep = np.sort(np.random.default_rng(self.recipe.seed).choice(len(X), rows, replace=False))
            X, y = X.iloc[keep], y[keep]
        groups = self._importance_groups(X.columns, by, top)
        return permutation_drop(X, y, predict, groups, repeats, self.recipe.seed)

    def _importance_groups(self, columns: pd.Index, by: str, top: int) -> dict[str, list[str]]:
        if by == "family":
            out: dict[str, list[str]] = {}
            for c in columns:
                out.setdefault(family(c), []).append(c)
            return out
        weights = self.leaderboard().set_index("model")["blend_weight"].fillna(0)
        score = pd.Series(0.0, index=columns)
        for name, imp in self.final_.importance.items():
            if imp is not None and imp.sum() > 0:
                score = score.add(weights.get(name, 0) * imp / imp.sum(), fill_value=0)
        return {c: [c] for c in score.sort_values(ascending=False).index[:top] if c in columns}

    def interval(self, level: float = 0.8) -> tuple[float, float]:
        """Offsets from a score that held ``level`` of the hold-out posts' labels (their
        residuals' quantiles): a score s means a label in [s + low, s + high] that often."""
        hold = self.validation_.predictions
        residual = hold["label"].to_numpy(float) - hold["final_drift"].to_numpy(float)
        low, high = np.quantile(residual, [(1 - level) / 2, (1 + level) / 2])
        return float(low), float(high)

    def looks_ahead(self) -> list[str]:
        """The feature blocks that describe the author's later posts (``lookahead``),
        which do not exist yet when a post is scored before it goes out."""
        return [b.name for b in self.blocks_ if b.params.get("lookahead")]

    def reads_images(self) -> bool:
        return any(family(c) == "image" for c in self.columns_)

    def detach_cache(self) -> None:
        """Encode new posts in memory from now on, without adding to the feature cache
        on disk (for a service, where every request would leave files behind)."""
        for block in self.blocks_:
            block.use_cache(None)

    def fit_summary(self) -> dict:
        """What the fit did, in plain values: data, seconds per stage, the decisions the
        hold-out made and the scores it gave."""
        v = self.validation_
        return {"recipe": self.recipe.name, "posts": self.n_posts_, "stage_seconds": self.stage_seconds_,
                "models_fitted_on_every_label": v.models, "pseudo_label_rounds": v.pseudo_rounds,
                "drift": v.drift.explain(), "blend": v.blend.describe(),
                "holdout": {k: s["src"]["value"] for k, s in v.scores.items()}}

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


class _Clock:
    """Seconds between laps, by name: where a run's time went."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self.last
        self.last = now


def _holdout(posts: pd.DataFrame, holdout: np.ndarray) -> HoldOut:
    rows = np.flatnonzero(holdout)
    info = ["post_id", "posted_at", *(["category"] if "category" in posts else [])]
    return HoldOut(posts.index[rows], posts["label"].to_numpy(float)[rows],
                   utc_seconds(posts["posted_at"].iloc[rows]) / DAY, posts.iloc[rows][info])


def _shares(blend) -> dict[str, float]:
    """Each tier-1 model's share of a tiered blend (its weight in its tier-2 blend times
    that blend's in the final one), and each tier-2 blend's own weight."""
    weights = blend.describe()
    final = weights["final"]
    return {**final, **{m: w * final.get(tier, 0.0) for tier, members in weights.items() if tier != "final"
                        for m, w in members.items()}}


def _post_keys(posts: pd.DataFrame) -> pd.MultiIndex:
    """A post's identity: its id, its user and its time (ids alone can repeat across data sets)."""
    return pd.MultiIndex.from_arrays([posts["post_id"].astype(str), posts["user_id"].astype(str),
                                      utc_seconds(posts["posted_at"])])


def _texts(posts: pd.DataFrame) -> pd.Series:
    from popfusion.features.text import field_texts

    return field_texts(posts, "joined")
