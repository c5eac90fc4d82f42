"""Blenders, the tiered ensemble, pseudo-labelling, drift correction and submissions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from popfusion import metrics
from popfusion.fusion.blend import METHODS, Blender
from popfusion.models.base import Model
from popfusion.submission import read_submission, to_submission, write_submission
from popfusion.training.drift import DriftCorrection
from popfusion.training.ensemble import Ensemble, Spec, Stage, feature_columns, modality
from popfusion.training.splits import chronological_holdout, folds
from popfusion.training.target import LabelTransform


def _preds(n: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(6.4, 2.4, n)
    return pd.DataFrame({"good": y + rng.normal(0, 1.0, n), "other": y + rng.normal(0, 1.2, n),
                         "noise": rng.normal(6, 1, n)}), y


@pytest.mark.parametrize("method", METHODS)
def test_blends_beat_their_inputs(method: str) -> None:
    P, y = _preds()
    if method == "rank":  # rank averaging weighs every input alike: give it sane inputs
        P = P[["good", "other"]]
    blend = Blender(method).fit(P[:1500], y[:1500])
    out = blend.predict(P[1500:])
    best = max(metrics.score(y[1500:], P[c][1500:])["src"] for c in P)
    assert metrics.score(y[1500:], out)["src"] > best - 0.005
    if method == "weights":
        w = blend.describe()
        assert w["good"] > w["other"] > w["noise"] or w["noise"] == 0
        assert abs(sum(w.values()) - 1) < 1e-9


def test_label_transforms_invert() -> None:
    y = np.random.default_rng(0).gamma(4, 1.5, 500)
    for kind in ("none", "standard", "rankgauss"):
        t = LabelTransform(kind).fit(y)
        np.testing.assert_allclose(t.inverse(t.transform(y)), y, atol=0.05 if kind == "rankgauss" else 1e-9)


def test_splits_respect_time() -> None:
    times = np.random.default_rng(0).permutation(100).astype(float)
    hold = chronological_holdout(times, 0.2)
    assert hold.sum() == 20 and times[hold].min() > times[~hold].max()
    f = folds(times, 4)
    assert [times[f == k].max() < times[f == k + 1].min() for k in range(3)] == [True] * 3
    users = np.repeat(np.arange(25), 4)
    g = folds(times, 4, "user", users)
    assert pd.Series(g).groupby(users).nunique().max() == 1
    with pytest.warns(UserWarning, match="random K-fold"):
        folds(times, 4, "random")


def test_drift_correction() -> None:
    days = np.arange(100.0)
    y = 6 - 0.01 * days
    shift = DriftCorrection("shift").fit(days, y, np.full(100, 6.0))
    assert shift.shift_ == pytest.approx(-0.495)
    trend = DriftCorrection("trend").fit(days, y, np.full(100, 6.0))
    assert trend.slope_ == pytest.approx(-0.01)
    np.testing.assert_allclose(trend.apply(days, np.full(100, 6.0)), y, atol=1e-9)
    # carried past the hold-out, damped: at most one more hold-out span of the ramp
    far = trend.apply(np.array([150.0, 1000.0, 1e6]), np.full(3, 6.0))
    assert y[-1] - 0.99 < far[0] < y[-1] - 0.01
    assert far[1] == pytest.approx(y[-1] - 0.01 * 99, abs=0.01) and far[2] == pytest.approx(far[1], abs=1e-3)


def test_drift_auto_picks_the_trend_on_a_steady_rise_and_none_without_one() -> None:
    rng = np.random.default_rng(0)
    days = np.sort(rng.uniform(0, 100, 2000))
    rising = 6 + 0.02 * days + rng.normal(0, 0.3, 2000)
    flat = 6 + rng.normal(0, 0.3, 2000)
    pred = 6 + 0.5 * (flat - 6) + rng.normal(0, 0.1, 2000)  # a model that knows some of the noise
    up = DriftCorrection("auto").fit(days, rising, pred)
    assert up.chosen_ == "trend" and up.slope_ == pytest.approx(0.02, abs=0.005)
    assert set(up.describe()["backtest"]) == {"none", "shift", "trend"}
    level = DriftCorrection("auto").fit(days, flat, pred)
    assert level.chosen_ == "none"
    assert "chosen by backtests" in level.explain()


def _frame(n: int = 900, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"meta_a": rng.normal(size=n), "user_b": rng.normal(size=n),
                      "text_0": rng.normal(size=n), "image_0": rng.normal(size=n)}).astype("float32")
    y = 6 + X["meta_a"] + 0.8 * X["user_b"] + 0.4 * X["text_0"] + rng.normal(0, 0.5, n)
    return X, y.to_numpy()


SPECS = [Spec("lgb", "lightgbm", ["all"], {"n_estimators": 80, "learning_rate": 0.1}),
         Spec("ridge_user", "ridge", ["meta", "user"]), Spec("ridge_text", "ridge", ["text"])]


def test_feature_groups_and_modalities() -> None:
    X, _ = _frame(10)
    assert feature_columns(X.columns, ["meta", "user"]) == ["meta_a", "user_b"]
    assert feature_columns(X.columns, ["all"]) == list(X.columns)
    assert [modality(g) for g in (["all"], ["meta", "user"], ["text"], ["image"], ["text", "image"])] == \
        ["all", "user", "text", "image", "all"]
    with pytest.raises(ValueError, match="unknown feature group"):
        feature_columns(X.columns, ["audio"])


def _stage(X: pd.DataFrame, y: np.ndarray, ok: np.ndarray | None = None) -> Stage:
    """The first 700 rows labelled, in time order; the other 200 to predict."""
    ok = np.ones(len(X) - 700, bool) if ok is None else ok
    return Stage(X[:700], y[:700], np.arange(700.0), np.arange(700), X[700:], ok)


def test_ensemble_tiers_and_pseudo_labels_respect_their_masks(monkeypatch) -> None:
    import popfusion.training.ensemble as ensemble

    X, y = _frame()
    ok = np.zeros(200, bool)
    ok[:100] = True  # the other 100 stand for hold-out rows: never pseudo-labelled
    chosen = []
    original = ensemble.confident
    monkeypatch.setattr(ensemble, "confident", lambda *a: chosen.append(original(*a)) or chosen[-1])
    ens = Ensemble(SPECS, n_folds=3, prune=False).fit(_stage(X, y, ok), pseudo_rounds=2, pseudo_share=0.5)
    assert len(chosen) == 2 and all(c[:100].sum() == 50 and not c[100:].any() for c in chosen)
    assert len(ens.rounds_) == 3
    last = ens.rounds_[-1]
    tiers = {"tier2_all", "tier2_user", "tier2_text", "final"}
    assert {"lgb", "ridge_user", "ridge_text", *tiers} <= set(last.oof)
    assert last.oof.notna().all().all()
    final = metrics.score(y[700:], last.test["final"])["src"]
    assert final >= max(metrics.score(y[700:], last.test[s.name])["src"] for s in SPECS) - 0.01
    assert set(last.budgets) == set(last.seconds) == {s.name for s in SPECS}


def test_pseudo_label_rounds_fit_only_the_models_the_blend_weighs() -> None:
    """A model the blend gives no weight to costs a whole round of fits for nothing: the
    next round leaves it out."""
    X, y = _frame()
    ens = Ensemble(SPECS, n_folds=3).fit(_stage(X, y), 1)
    names = [s.name for s in SPECS]
    first, second = ens.rounds_
    weighed = first.blend.used()
    assert first.models == names and second.models == weighed and len(weighed) < len(names)
    assert set(second.importance) == set(weighed)
    every = Ensemble(SPECS, n_folds=3, prune=False).fit(_stage(X, y), 1)
    assert [r.models for r in every.rounds_] == [names, names]


def test_weights_must_hold_in_the_forward_view_too() -> None:
    """Out-of-fold, "other" helps the blend; forward in time it has lost its signal. With
    the forward view it gets no weight; weights both views agree on are kept."""
    P, y = _preds(2000)
    Pf, yf = _preds(1000, seed=3)
    Pf["other"] = np.random.default_rng(4).normal(6, 1, 1000)
    alone = Blender().fit(P, y).describe()
    both = Blender().fit(P, y, (Pf, yf)).describe()
    assert alone["other"] > 0 and both["other"] == 0 and both["good"] == 1
    agree = Blender().fit(P, y, _preds(1000, seed=5)).describe()
    assert agree["other"] > 0 and agree["good"] > agree["other"]


def test_test_rows_are_predicted_by_models_refitted_on_every_row(tmp_path: Path) -> None:
    """With ``holdout_by: refit``, each model's folds, then one refit on every labelled
    row with the folds' mean budget, which predicts the rows to predict."""
    X, y = _frame()
    ens = Ensemble(SPECS, n_folds=3, checkpoints=tmp_path, holdout_by="refit").fit(_stage(X, y))
    names = [p.name.split("-r0-")[0] + "-" + p.name.split("-")[-2] for p in tmp_path.glob("*.pkl")]
    assert sorted(names) == sorted(f"{s.name}-f{f}" for s in SPECS for f in (0, 1, 2, "all"))
    refit = Model.load(next(tmp_path.glob("lgb-r0-fall-*.pkl")))
    budget = ens.rounds_[0].budgets["lgb"]["n_estimators"]
    assert 1 <= refit.model_.booster_.num_trees() == budget <= 80  # the folds' mean budget
    ridge = Model.load(next(tmp_path.glob("ridge_user-r0-fall-*.pkl")))
    np.testing.assert_allclose(ens.rounds_[0].test["ridge_user"], ridge.predict(X[700:][["meta_a", "user_b"]]),
                               rtol=1e-6)


def test_submission_round_trip(tmp_path: Path) -> None:
    ids, scores = pd.Series(["775", "1075"]), pd.Series([6.5123456, 7.0])
    doc = to_submission(ids, scores)
    assert doc["version"] == "VERSION 1.0" and doc["external_data"] == {"used": "false", "details": ""}
    assert doc["result"][0] == {"post_id": "post775", "popularity_score": 6.5123}
    back = read_submission(write_submission(tmp_path / "s.json", ids, scores))
    assert back["post_id"].tolist() == ["775", "1075"]
    assert back["popularity_score"].tolist() == [6.5123, 7.0]
