"""`popfusion run`, `predict` and `evaluate` end to end on a tiny synthetic SMPD, and the
API's guarantees: test labels never touched, hold-out never pseudo-labelled, same recipe
and seed give the same predictions, a rerun resumes from finished models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from popfusion import load, metrics
from popfusion.api import PopFusion
from popfusion.atomic import save_pickle
from popfusion.cli import app
from popfusion.data.synthetic import SynthSpec, generate
from popfusion.features.base import DAY, utc_seconds
from popfusion.models.fold_mean import FoldMean
from popfusion.recipe import Recipe
from popfusion.runs import ARTIFACTS, MANIFEST, write_manifest
from popfusion.training.drift import DriftCorrection
from popfusion.training.ensemble import Fits, blend_of, feature_columns, mean_budget
from popfusion.training.trainer import Trainer

RECIPE = {
    "name": "tiny",
    "features": [{"block": "meta", "params": {"language": False}}, {"block": "user"},
                 {"block": "text", "params": {"backend": "tfidf", "dim": 8, "fields": ["joined"]}}],
    "models": [
        {"name": "lgb_all", "model": "lightgbm", "params": {"n_estimators": 60, "learning_rate": 0.1}},
        {"name": "ridge_user", "model": "ridge", "features": ["meta", "user"]},
        {"name": "ridge_text", "model": "ridge", "features": ["text"]},
    ],
    "validation": {"holdout": 0.25, "folds": 2},
    "drift": "shift", "pseudo": {"rounds": 1, "share": 0.5}, "bootstrap": 20,
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("run") / "smpd", SynthSpec(posts=600, seed=5, images=False),
                    progress=False)


@pytest.fixture(scope="module")
def posts(tiny: Path) -> pd.DataFrame:
    return load(tiny, vectors=False)


def _said(result) -> str:
    """What a command printed, with the console's line wrapping undone."""
    return " ".join(result.output.split())


def _fit(posts: pd.DataFrame, tmp: Path, **kwargs) -> PopFusion:
    return PopFusion(Recipe.model_validate(RECIPE), cache_dir=tmp / "cache", **kwargs).fit(posts)


def test_run_writes_every_artifact_and_predict_and_evaluate_work(tiny: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(json.dumps(RECIPE))
    out = tmp_path / "run"
    args = ["run", str(recipe), "--data", str(tiny), "--out", str(out), "--json", "-q"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    said = json.loads(result.stdout)
    assert said["run_folder"] == str(out) and set(said["stage_seconds"]) == {
        "validation features", "validation models", "final features", "final models"}
    for name in ARTIFACTS:
        assert (out / name).is_file(), name
    assert any((out / "checkpoints").rglob("*.pkl"))
    m = json.loads((out / "metrics.json").read_text())
    assert {"lgb_all", "tier2_all", "tier2_user", "tier2_text", "final", "final_drift"} <= set(m["holdout"])
    assert set(m["holdout"]["final"]["src"]) == {"value", "low", "high"}
    assert len(m["pseudo_label_rounds"]) == 2
    assert m["pseudo_label_rounds_used"] == int(np.argmax([r["src"] for r in m["pseudo_label_rounds"]]))
    sub = json.loads((out / "submission.json").read_text())
    assert len(sub["result"]) == 200 and sub["result"][0]["post_id"].startswith("post")
    report = (out / "report.html").read_text()
    for section in ("run", "leaderboard", "decisions", "holdout", "test-period", "importance", "contributions",
                    "weights"):
        assert f'<section id="{section}">' in report, section
    assert report.count('src="data:image/png;base64,') >= 4 and "{{" not in report
    assert "<tr><th>seed</th><td>0</td></tr>" in report and f"<td>{tiny}</td>" in report
    assert "<td>user history</td>" in report  # the top features' table: human names and families

    new = tmp_path / "new.csv"
    load(tiny, vectors=False).query("split == 'test'").head(30)[["post_id", "user_id", "posted_at", "title"]] \
        .to_csv(new, index=False)
    args = ["predict", str(out), "--data", str(new), "--out", str(tmp_path / "p.csv")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(tmp_path / "p.csv")) == 30
    trained = tmp_path / "trained.csv"
    load(tiny, vectors=False).query("split == 'train'").head(5)[["post_id", "user_id", "posted_at", "title"]] \
        .to_csv(trained, index=False)
    args = ["predict", str(out), "--data", str(trained), "--out", str(tmp_path / "t.csv")]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 1 and "5 of 5 posts were in the run's training data" in _said(refused)
    allowed = CliRunner().invoke(app, [*args, "--allow-train", "--json"])
    assert allowed.exit_code == 0 and json.loads(allowed.stdout)["in_training"] == 5
    args = ["predict", str(out), "--data", str(new), "--out", str(tmp_path / "p.txt")]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2 and "give a .parquet, .csv or .json" in _said(refused)
    assert not (tmp_path / "p.txt").exists()

    truth = tmp_path / "truth.csv"
    pd.read_parquet(tiny / "truth.parquet").to_csv(truth, index=False)
    args = ["evaluate", str(out / "submission.json"), str(truth), "--bootstrap", "20"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "200 posts scored" in result.output and "src" in result.output


def test_test_labels_are_never_touched(posts: pd.DataFrame, tmp_path: Path) -> None:
    """Garbage in the test rows' label column must change nothing at all."""
    clean = _fit(posts, tmp_path)
    noisy = posts.copy()
    is_test = noisy["split"] == "test"
    noisy.loc[is_test, "label"] = np.random.default_rng(0).normal(50, 10, is_test.sum())
    dirty = _fit(noisy, tmp_path)
    assert dirty.validation_.blend.describe() == clean.validation_.blend.describe()
    pd.testing.assert_frame_equal(dirty.test_predictions_, clean.test_predictions_)


def test_the_final_blend_also_answers_to_the_hold_outs_forward_predictions(posts: pd.DataFrame,
                                                                           tmp_path: Path) -> None:
    """The test posts' blend weights are chosen on the validation stage's out-of-fold
    predictions together with its hold-out predictions, none of whose labels its models
    or features saw, and applied to the final models' predictions; ``fusion.forward:
    false`` uses the out-of-fold ones alone."""
    model = _fit(posts, tmp_path)
    v = model.validation_
    kept = model.final_.specs
    tier1 = [s.name for s in kept]
    assert tier1 == v.models == list(model.final_.models)
    oof = (v.oof[tier1], v.oof["label"].to_numpy())
    forward = (v.predictions[tier1], v.predictions["label"].to_numpy())
    expected = blend_of(kept, "weights", 0.01).fit(*oof, forward)
    assert v.blend.describe() == expected.describe()
    np.testing.assert_allclose(model.test_predictions_["final"],
                               expected.predict(model.test_predictions_[tier1])["final"])
    alone = PopFusion(Recipe.model_validate({**RECIPE, "fusion": {"forward": False, "prune": False}}),
                      cache_dir=tmp_path / "cache").fit(posts)
    a = alone.validation_
    assert a.blend.describe() == blend_of(alone.final_.specs, "weights", 0.01).fit(
        a.oof[a.models], a.oof["label"].to_numpy()).describe()


def test_the_final_fit_fits_only_the_models_the_blend_weighs(posts: pd.DataFrame, tmp_path: Path) -> None:
    """The validation stage fits every model and scores each on the hold-out; the final
    fit fits only those the final blend gives weight to. ``fusion.prune: false`` fits
    them all."""
    names = [m["name"] for m in RECIPE["models"]]
    model = _fit(posts, tmp_path)
    assert set(names) <= set(model.validation_.scores)  # every model has its hold-out score
    assert set(model.validation_.models) < set(names)  # the tiny recipe's blend leaves a model out
    assert list(model.final_.models) == model.validation_.models == model.validation_.blend.used()
    everything = PopFusion(Recipe.model_validate({**RECIPE, "fusion": {"prune": False}}),
                           cache_dir=tmp_path / "cache").fit(posts)
    assert everything.validation_.models == list(everything.final_.models) == names


@pytest.mark.parametrize("holdout_by", ["folds", "refit"])
def test_each_model_is_fitted_as_few_times_as_the_decisions_need(posts: pd.DataFrame, tmp_path: Path,
                                                                  monkeypatch, holdout_by: str) -> None:
    """In the validation stage a model is fitted in each fold (and, with ``holdout_by:
    refit``, once more on every training row), each round; in the final stage once a
    round, on every label."""
    fits: list[str] = []
    original = Fits.fit

    def count(self, fold, *args, **kwargs):
        fits.append(f"{self.spec.name}-r{self.where[0]}-f{fold}")
        return original(self, fold, *args, **kwargs)

    monkeypatch.setattr(Fits, "fit", count)
    recipe = Recipe.model_validate({**RECIPE, "fusion": {"prune": False}, "pseudo": {"rounds": 0},
                                    "validation": {**RECIPE["validation"], "holdout_by": holdout_by}})
    model = PopFusion(recipe, cache_dir=tmp_path / "cache").fit(posts)
    names = [m["name"] for m in RECIPE["models"]]
    folds = recipe.validation.folds
    validation = [*range(folds), *(["all"] if holdout_by == "refit" else [])]
    assert sorted(fits) == sorted([f"{n}-r0-f{f}" for n in names for f in validation]
                                  + [f"{n}-r0-fall" for n in names])
    assert len(fits) == len(names) * (folds + 1 + (holdout_by == "refit"))  # 2 * (folds + 1) in two stages
    assert set(model.validation_.seconds) == set(model.final_.seconds) == set(names)


def test_the_fold_models_mean_predicts_the_hold_out(posts: pd.DataFrame, tmp_path: Path) -> None:
    """By default (``validation.holdout_by: folds``) the mean of a model's fold models
    predicts the hold-out and explains it, in place of a refit on every training row, and
    the final fit runs on every label with the folds' mean budget."""
    recipe = Recipe.model_validate({**RECIPE, "fusion": {"prune": False}, "pseudo": {"rounds": 0}})
    model = PopFusion(recipe, cache_dir=tmp_path / "cache").fit(posts)
    folds = recipe.validation.folds
    v = model.validation_
    lgb = v.holdout_models["lgb_all"]
    assert isinstance(lgb, FoldMean) and len(lgb.params["members"]) == folds
    X = v.holdout_X
    cols = feature_columns(X.columns, ["all"])
    members = [m.predict(X[cols]) for m in lgb.params["members"]]
    np.testing.assert_allclose(lgb.predict(X[cols]), np.mean(members, axis=0))
    C, base = lgb.contributions(X[cols].head(5), X[cols].head(5))
    np.testing.assert_allclose(C.sum(axis=1) + base, lgb.predict(X[cols].head(5)), atol=1e-6)
    assert v.budgets[0]["lgb_all"] == mean_budget(lgb.params["members"]) != {}  # the final fit's


def test_drift_and_hold_out_scores_come_from_the_best_pseudo_label_round(posts: pd.DataFrame,
                                                                        tmp_path: Path) -> None:
    """The final fit reruns the pseudo-label rounds only up to the best one, so the
    drift correction it applies, and the hold-out scores it reports, are those of that
    round, not of a later, worse one."""
    # every test post pseudo-labelled: in the tiny run with refits that round hurts on the hold-out
    recipe = Recipe.model_validate({**RECIPE, "pseudo": {"rounds": 1, "share": 1.0},
                                    "validation": {**RECIPE["validation"], "holdout_by": "refit"}})
    model = PopFusion(recipe, cache_dir=tmp_path / "cache").fit(posts)
    v = model.validation_
    assert v.pseudo_rounds < len(v.rounds) - 1 and len(v.budgets) == v.pseudo_rounds + 1
    hold = v.predictions
    assert metrics.score(hold["label"], hold["final"]) == v.rounds[v.pseudo_rounds]
    days = utc_seconds(hold["posted_at"]) / DAY
    expected = DriftCorrection(RECIPE["drift"]).fit(days, hold["label"], hold["final"])
    assert v.drift.describe() == expected.describe()


def test_a_model_saved_in_another_format_is_refused_clearly(tmp_path: Path) -> None:
    """A saved model carries its format; ``predict`` on one from an older popfusion says
    to rerun instead of failing on a missing attribute."""
    model = PopFusion(Recipe.model_validate(RECIPE), cache_dir=tmp_path / "cache")
    assert isinstance(PopFusion.load(model.save(tmp_path / "now.pkl")), PopFusion)
    save_pickle(PopFusion(Recipe.model_validate(RECIPE)), tmp_path / "run" / "model.pkl")  # no format_
    write_manifest(tmp_path / "run")
    new = tmp_path / "new.csv"
    new.write_text("post_id,user_id,posted_at\np1,u1,2020-01-01\n")
    result = CliRunner().invoke(app, ["predict", str(tmp_path / "run"), "--data", str(new)])
    assert result.exit_code == 1
    assert "saved in format 1" in result.output and "Rerun `popfusion run`" in " ".join(result.output.split())


def test_predict_matches_the_run_on_its_own_test_posts(posts: pd.DataFrame, tmp_path: Path) -> None:
    """``predict`` reuses the blocks as fitted in training: scoring the test posts again
    gives what the run gave them; labels on the new posts are ignored."""
    model = _fit(posts, tmp_path)
    test = posts[posts["split"] == "test"].assign(label=99.0)
    scores = model.predict(test)
    expected = model.test_predictions_.set_index("post_id").loc[test["post_id"], "final_drift"]
    np.testing.assert_allclose(scores.to_numpy(), expected.to_numpy(), rtol=1e-5)
    reloaded = PopFusion.load(model.save(tmp_path / "m.pkl"))
    np.testing.assert_allclose(reloaded.predict(test).to_numpy(), scores.to_numpy(), rtol=1e-6)


def test_same_recipe_same_predictions_and_resume(posts: pd.DataFrame, tmp_path: Path) -> None:
    first = _fit(posts, tmp_path, checkpoints=tmp_path / "ck")
    saved = {p: p.stat().st_mtime_ns for p in (tmp_path / "ck").rglob("*.pkl")}
    second = _fit(posts, tmp_path, checkpoints=tmp_path / "ck")
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "ck").rglob("*.pkl")} == saved  # all reused
    pd.testing.assert_frame_equal(first.test_predictions_, second.test_predictions_)
    fresh = _fit(posts, tmp_path / "other")
    pd.testing.assert_frame_equal(first.test_predictions_, fresh.test_predictions_)


def test_hold_out_rows_are_never_pseudo_labelled(posts: pd.DataFrame, tmp_path: Path, monkeypatch) -> None:
    seen, rounds = [], []
    validate, finish = Trainer.validate, Trainer.finish

    def spy_validate(self, stage, holdout):
        seen.append(pd.Series(stage.pseudo_ok, index=stage.X_test.index))
        return validate(self, stage, holdout)

    def spy_finish(self, stage, validation, test_times):
        seen.append(pd.Series(stage.pseudo_ok, index=stage.X_test.index))
        rounds.append(validation.pseudo_rounds)
        return finish(self, stage, validation, test_times)

    monkeypatch.setattr(Trainer, "validate", spy_validate)
    monkeypatch.setattr(Trainer, "finish", spy_finish)
    model = _fit(posts, tmp_path)
    validation_ok, final_ok = seen
    held = posts.index[posts["post_id"].isin(model.validation_.predictions["post_id"])]
    assert not validation_ok.loc[held].any()
    assert validation_ok.loc[posts.index[posts["split"] == "test"]].all()
    assert final_ok.index.equals(posts.index[posts["split"] == "test"]) and final_ok.all()
    # the final fit runs only the rounds that helped on the hold-out
    assert rounds == [model.validation_.pseudo_rounds] <= [RECIPE["pseudo"]["rounds"]]


def test_a_changed_parameter_refits_only_its_model(posts: pd.DataFrame, tmp_path: Path) -> None:
    """A rerun after one model's parameters change refits that model only; every other
    fit of both stages is reused from its checkpoint. (With pseudo-label rounds the
    blend's new pseudo-labels would rightly refit the later rounds of every model.)"""
    recipe = {**RECIPE, "fusion": {"prune": False}, "pseudo": {"rounds": 0}}
    PopFusion(Recipe.model_validate(recipe), cache_dir=tmp_path / "cache",
              checkpoints=tmp_path / "ck").fit(posts)
    before = {p.name for p in (tmp_path / "ck").rglob("*.pkl")}
    models = [dict(m) for m in RECIPE["models"]]
    models[1] = {**models[1], "params": {"alpha": 3.0}}  # ridge_user
    PopFusion(Recipe.model_validate({**recipe, "models": models}), cache_dir=tmp_path / "cache",
              checkpoints=tmp_path / "ck").fit(posts)
    new = {p.name for p in (tmp_path / "ck").rglob("*.pkl")} - before
    assert new and all(name.startswith("ridge_user-") for name in new)


def test_a_changed_row_refits_exactly_the_fits_that_read_it(posts: pd.DataFrame, tmp_path: Path) -> None:
    """Checkpoints are keyed by every row a fit reads: nudging one early training post's
    coordinates (within its geo cell, so no other post's features move) refits the fits
    that trained on it and reuses the ones that held it out, and the result equals a
    fresh run's."""
    _fit(posts, tmp_path, checkpoints=tmp_path / "ck")
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "ck").rglob("*.pkl")}
    train = posts[(posts["split"] == "train") & posts["latitude"].notna()].sort_values("posted_at")
    row = train.index[0]
    moved = posts.copy()
    moved.loc[row, "latitude"] = np.floor(posts.loc[row, "latitude"]) + 0.5
    changed = _fit(moved, tmp_path, checkpoints=tmp_path / "ck")
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "ck").rglob("*.pkl")}
    new = set(after) - set(before)
    assert all(after[name] == stamp for name, stamp in before.items())  # nothing overwritten
    # in round 0 of both stages the post is in fold 0: fold 0's fits held it out and are reused
    assert not any("-r0-f0-" in name for name in new)
    assert any("-r0-f1-" in name for name in new) and any("-r0-fall-" in name for name in new)
    fresh = _fit(moved, tmp_path / "fresh")
    pd.testing.assert_frame_equal(changed.test_predictions_, fresh.test_predictions_)


def test_a_run_folder_is_complete_or_refused(tiny: Path, tmp_path: Path, monkeypatch) -> None:
    """A run that fails while writing leaves no manifest and no staging folder, and
    predict refuses the folder; so it does a model.pkl swapped in after the run; an --out
    that is a file is refused before any work."""
    import popfusion.runs

    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(json.dumps(RECIPE))
    out = tmp_path / "run"
    new = tmp_path / "new.csv"
    load(tiny, vectors=False).head(5)[["post_id", "user_id", "posted_at"]].to_csv(new, index=False)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(popfusion.runs, "write_report", disk_full)
    result = CliRunner().invoke(app, ["run", str(recipe), "--data", str(tiny), "--out", str(out)])
    assert result.exit_code == 1 and "No space left on device" in _said(result)
    assert not (out / MANIFEST).exists() and not list(tmp_path.glob(".run.partial-*"))
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]
    result = CliRunner().invoke(app, ["predict", str(out), "--data", str(new)])
    assert result.exit_code == 1 and "not a complete run folder" in _said(result)

    monkeypatch.undo()
    assert CliRunner().invoke(app, ["run", str(recipe), "--data", str(tiny), "--out", str(out)]).exit_code == 0
    assert CliRunner().invoke(app, ["predict", str(out), "--data", str(new), "--allow-train"]).exit_code == 0
    save_pickle(PopFusion(Recipe.model_validate(RECIPE)), out / "model.pkl")  # swapped in afterwards
    result = CliRunner().invoke(app, ["predict", str(out), "--data", str(new)])
    assert result.exit_code == 1 and "not the model its run wrote" in _said(result)

    (tmp_path / "afile").write_text("x")
    args = ["run", str(recipe), "--data", str(tiny), "--out", str(tmp_path / "afile")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "is a file" in _said(result)


def test_a_post_gets_the_same_score_alone_and_in_a_batch(posts: pd.DataFrame, tmp_path: Path) -> None:
    """Every product a score goes through runs on fixed-size blocks of rows, and new posts'
    embeddings are encoded a post at a time, so a post's score is the same to the last bit
    whatever it is scored with: here through the neural text encoder (whose vectors differ
    by about 1e-7 between a batch and alone) and the neighbour and cluster blocks on it."""
    models = [*RECIPE["models"], {"name": "mlp_user", "model": "mlp", "features": ["meta", "user"],
                                  "params": {"epochs": 3}}]
    features = [{"block": "meta", "params": {"language": False}}, {"block": "user"},
                {"block": "text", "params": {"backend": "use", "fields": ["joined"], "components": 8}},
                {"block": "knn", "params": {"source": "text"}},
                {"block": "cluster", "params": {"source": "text"}}]
    recipe = {**RECIPE, "features": features, "models": models, "fusion": {"prune": False},
              "pseudo": {"rounds": 0}}
    model = PopFusion(Recipe.model_validate(recipe), cache_dir=tmp_path / "cache").fit(posts)
    new = posts[posts["split"] == "test"].head(50)
    together = model.final_.predict(model.features(new), utc_seconds(new["posted_at"]))
    alone = pd.concat([model.final_.predict(model.features(one), utc_seconds(one["posted_at"]))
                       for one in (new.iloc[[i]] for i in range(len(new)))])
    pd.testing.assert_frame_equal(alone, together, check_exact=True)


def test_the_api_speaks_scikit_learn_and_has_a_leaderboard(tiny: Path, posts: pd.DataFrame,
                                                          tmp_path: Path) -> None:
    from sklearn.base import clone

    model = PopFusion(Recipe.model_validate(RECIPE), cache_dir=tmp_path / "cache")
    assert repr(model) == "PopFusion(recipe='tiny', unfitted)"
    twin = clone(model)
    assert twin.get_params()["recipe"] == model.recipe and twin.get_params()["cache_dir"] == tmp_path / "cache"
    assert twin.set_params(checkpoints=tmp_path / "ck").checkpoints == tmp_path / "ck"
    model.fit(posts)
    assert repr(model).startswith("PopFusion(recipe='tiny', 600 posts, models ")
    board = model.leaderboard()
    v = model.validation_
    assert set(board["model"]) == set(v.scores) and board["holdout_src"].is_monotonic_decreasing
    weights = board.set_index("model")["blend_weight"]
    assert weights[v.models].sum() == pytest.approx(1.0)
    held = board.set_index("model")["holdout_weight"]
    assert held[[s.name for s in v.holdout_specs]].sum() == pytest.approx(1.0)
    assert board.set_index("model").loc[v.models, "final_fit"].all()
    truth = pd.read_parquet(tiny / "truth.parquet")[["post_id", "label"]]
    test = posts[posts["split"] == "test"].drop(columns="label").merge(truth, on="post_id")
    scores = model.evaluate(test)
    assert set(scores) == {"src", "mae", "pearson", "rmse"} and scores["src"]["low"] > 0.3
    assert model.fit_summary()["models_fitted_on_every_label"] == v.models


def test_permutation_importance_on_one_scale_for_every_model(tiny: Path, posts: pd.DataFrame,
                                                             tmp_path: Path) -> None:
    """On the hold-out, through the validation models that never saw its labels: shuffling
    the user's history costs more SRC than shuffling a feature no model needs."""
    model = _fit(posts, tmp_path)
    families = model.feature_importance(by="family", repeats=3)
    drop = families.set_index("name")["src_drop"]
    assert drop["user history"] > 0.05 and drop["user history"] == drop.max()
    assert (families["low"] <= families["src_drop"]).all() and (families["src_drop"] <= families["high"]).all()
    features = model.feature_importance(top=5, repeats=2)
    assert len(features) == 5 and {"name", "human", "family", "src_drop"} <= set(features.columns)
    truth = pd.read_parquet(tiny / "truth.parquet")[["post_id", "label"]]
    test = posts[posts["split"] == "test"].drop(columns="label").merge(truth, on="post_id")
    assert model.feature_importance(test, by="family", repeats=1)["src_drop"].max() > 0.05


def test_a_time_limit_leaves_out_the_models_that_would_start_after_it(posts: pd.DataFrame,
                                                                       tmp_path: Path, caplog) -> None:
    """With no time at all, each stage still fits its first model and leaves the others out,
    naming them; the blend and the predictions work with what was fitted."""
    import logging

    recipe = Recipe.model_validate({**RECIPE, "pseudo": {"rounds": 1}})
    with caplog.at_level(logging.WARNING, logger="popfusion"):
        model = PopFusion(recipe, cache_dir=tmp_path / "cache").fit(posts, time_limit=0.0)
    assert list(model.final_.models) == model.validation_.models == ["lgb_all"]
    assert "ridge_user" not in model.validation_.scores and len(model.validation_.rounds) == 1
    said = caplog.text
    assert "time limit: ridge_user not fitted in round 0" in said
    assert "pseudo-label rounds 1 to 1 not run" in said
    assert model.predict(posts[posts["split"] == "test"].head(5)).notna().all()


def test_the_report_reads_in_a_browser(posts: pd.DataFrame, tiny: Path, tmp_path: Path, browser) -> None:
    """Every plot loads, every section shows, and nothing is wider than the window."""
    from popfusion.runs import write_run

    write_run(_fit(posts, tmp_path), tmp_path / "run", str(tiny))
    browser.get((tmp_path / "run" / "report.html").as_uri())
    images = browser.execute_script("return Array.from(document.images).map(i => i.complete && i.naturalWidth)")
    assert len(images) >= 4 and all(images)
    hidden = browser.execute_script(
        "return Array.from(document.querySelectorAll('section')).filter(s => !s.offsetHeight).map(s => s.id)")
    assert hidden == []
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
    browser.save_screenshot(str(tmp_path / "report.png"))
