"""A run folder: everything `popfusion run` leaves behind, each file written atomically.

    recipe.yaml              the resolved recipe
    metrics.json             hold-out scores (with bootstrap intervals) per model and tier,
                             out-of-fold scores, pseudo-label rounds, the models the final
                             stage fitted, drift, fusion weights
    oof.parquet              out-of-fold predictions of the validation stage, with labels
    holdout.parquet          the validation stage's predictions on the hold-out
    test_predictions.parquet test predictions of every model fitted and tier
    submission.json          the SMP Challenge submission
    model.pkl                the fitted PopFusion (``popfusion predict`` loads it)
    checkpoints/             every fitted fold model (a rerun resumes from them)
    report.html              the report, plots included
    manifest.json            written last, with every artifact's hash: the run is complete
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import yaml

from popfusion import __version__
from popfusion.api import PopFusion
from popfusion.atomic import atomic_parquet, atomic_write
from popfusion.report import write_report
from popfusion.submission import write_submission

ARTIFACTS = ("recipe.yaml", "metrics.json", "oof.parquet", "holdout.parquet", "test_predictions.parquet",
             "submission.json", "model.pkl", "report.html")


MANIFEST = "manifest.json"  # written last: its presence says the folder is complete


class RunFolderError(ValueError):
    """A run folder that cannot be written, or read back as a complete run."""


def check_out(run_dir: Path) -> Path:
    """Refuse an output path a run cannot be written to, before any work is done."""
    if run_dir.exists() and not run_dir.is_dir():
        raise RunFolderError(f"--out {run_dir} is a file; give a folder for the run")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(run_dir / ".writable", b"")
        (run_dir / ".writable").unlink()
    except OSError as err:
        raise RunFolderError(f"cannot write the run folder {run_dir}: {err.strerror or err}") from None
    return run_dir


def write_run(model: PopFusion, run_dir: Path, data: str | None = None) -> Path:
    """Every artifact, all or nothing: they are written into a staging folder beside
    ``run_dir`` and moved in only when all exist, and the manifest (with the hash of
    model.pkl that ``load_run`` checks) goes last. A failure leaves no staging folder or
    temporary file behind and no manifest, so nothing takes the folder for a finished run."""
    check_out(run_dir)
    staging = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.partial-", dir=run_dir.parent))
    try:
        _write_artifacts(model, staging, data)
        (run_dir / MANIFEST).unlink(missing_ok=True)
        for name in ARTIFACTS:
            os.replace(staging / name, run_dir / name)
        write_manifest(run_dir)
    except OSError as err:
        raise RunFolderError(f"cannot write the run folder {run_dir}: {err.strerror or err}; nothing "
                             "was left half written, and a rerun resumes from the checkpoints") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return run_dir


def write_manifest(run_dir: Path) -> Path:
    """The manifest that marks ``run_dir`` complete: every artifact's SHA-256."""
    files = {n: _sha256(run_dir / n) for n in ARTIFACTS if (run_dir / n).is_file()}
    return atomic_write(run_dir / MANIFEST, json.dumps({"popfusion": __version__, "files": files}, indent=1))


def _write_artifacts(model: PopFusion, folder: Path, data: str | None) -> None:
    atomic_write(folder / "recipe.yaml", yaml.safe_dump(model.recipe.model_dump(), sort_keys=False))
    atomic_write(folder / "metrics.json", json.dumps(run_metrics(model), indent=2, default=float))
    atomic_parquet(model.validation_.oof.reset_index(drop=True), folder / "oof.parquet")
    atomic_parquet(model.validation_.predictions.reset_index(drop=True), folder / "holdout.parquet")
    test = model.test_predictions_
    atomic_parquet(test.reset_index(drop=True), folder / "test_predictions.parquet")
    write_submission(folder / "submission.json", test["post_id"], test["final_drift"])
    model.save(folder / "model.pkl")
    write_report(model, folder / "report.html", data)


def load_run(run_dir: Path) -> PopFusion:
    """The fitted model of a complete run folder. model.pkl is a pickle, and unpickling
    runs code: a run folder is to be trusted like a script. Before unpickling, the
    manifest written at the end of the run must be there and hold model.pkl's hash, so an
    unfinished folder, or a model.pkl swapped in after the run, is refused unread."""
    manifest = run_dir / MANIFEST
    if not manifest.is_file():
        raise RunFolderError(f"{run_dir} is not a complete run folder (no {MANIFEST}): its run did not "
                             "finish, or an older popfusion wrote it; rerun `popfusion run`, which resumes "
                             "from its checkpoints")
    try:
        expected = json.loads(manifest.read_text())["files"]["model.pkl"]
    except (ValueError, KeyError, TypeError):
        raise RunFolderError(f"{manifest} is not a popfusion manifest") from None
    if not (run_dir / "model.pkl").is_file() or _sha256(run_dir / "model.pkl") != expected:
        raise RunFolderError(f"{run_dir / 'model.pkl'} is not the model its run wrote (its hash differs "
                             f"from {MANIFEST}); it was not loaded")
    return PopFusion.load(run_dir / "model.pkl")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_metrics(model: PopFusion) -> dict:
    v, final = model.validation_, model.final_
    return {
        "recipe": model.recipe.name,
        "holdout": v.scores,
        "validation_oof": v.oof_scores,
        "pseudo_label_rounds": v.rounds,
        "pseudo_label_rounds_used": v.pseudo_rounds,
        "final_models": v.models,
        "drift": v.drift.describe(),
        "fusion_weights": v.blend.describe(),
        "stage_seconds": model.stage_seconds_,
        "fit_seconds": {"validation": v.seconds, "final": final.seconds},
        "features": model.feature_summary_,
    }

