"""A run folder: everything `popfusion run` leaves behind, each file written atomically.

    recipe.yaml              the resolved recipe
    metrics.json             hold-out scores (with bootstrap intervals) per model and tier,
                             out-of-fold scores, pseudo-label rounds, the models the final
                             stage fitted, drift, fusion weights
    oof.parquet              out-of-fold predictions of the final stage, with labels
    holdout.parquet          the validation stage's predictions on the hold-out
    test_predictions.parquet test predictions of every model fitted and tier
    submission.json          the SMP Challenge submission
    model.pkl                the fitted PopFusion (``popfusion predict`` loads it)
    checkpoints/             every fitted fold model (a rerun resumes from them)
    report.html              the report, plots included
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from popfusion.api import PopFusion
from popfusion.atomic import atomic_parquet, atomic_write
from popfusion.report import write_report
from popfusion.submission import write_submission

ARTIFACTS = ("recipe.yaml", "metrics.json", "oof.parquet", "holdout.parquet", "test_predictions.parquet",
             "submission.json", "model.pkl", "report.html")


def write_run(model: PopFusion, run_dir: Path) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(run_dir / "recipe.yaml", yaml.safe_dump(model.recipe.model_dump(), sort_keys=False))
    atomic_write(run_dir / "metrics.json", json.dumps(run_metrics(model), indent=2, default=float))
    atomic_parquet(model.oof_.reset_index(drop=True), run_dir / "oof.parquet")
    atomic_parquet(model.holdout_predictions_.reset_index(drop=True), run_dir / "holdout.parquet")
    test = model.test_predictions_
    atomic_parquet(test.reset_index(drop=True), run_dir / "test_predictions.parquet")
    write_submission(run_dir / "submission.json", test["post_id"], test["final_drift"])
    model.save(run_dir / "model.pkl")
    write_report(model, run_dir / "report.html")
    return run_dir


def run_metrics(model: PopFusion) -> dict:
    return {
        "recipe": model.recipe.name,
        "holdout": model.validation_,
        "validation_oof": model.validation_oof_,
        "final_oof": model.oof_metrics_,
        "pseudo_label_rounds": model.rounds_,
        "pseudo_label_rounds_used": model.pseudo_rounds_,
        "final_models": model.final_models_,
        "drift": model.drift_.describe(),
        "fusion_weights": model.weights_,
        "features": model.feature_summary_,
    }

