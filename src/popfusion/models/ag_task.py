"""The AutoGluon side of ``model: autogluon``: one fit or one prediction, run by the
Python of an environment that has AutoGluon (it pins its own pandas and others, so it
may not share popfusion's). It imports nothing from popfusion.

    python ag_task.py fit FOLDER --preset medium_quality --time-limit 300 [--exclude RF,XT]
    python ag_task.py serve FOLDER

``fit`` reads FOLDER/train.parquet (features, ``__label__`` and, when present,
``__weight__``) and leaves the predictor in FOLDER/predictor, only the models its best
one needs. ``serve`` loads that predictor once, then for each line ``ROWS OUT`` on its
standard input predicts the rows in the Parquet file ROWS into the Parquet file OUT and
answers ``done`` (a line per request), until its input closes: a model asked for many
predictions (out-of-fold rows, permutation importance) pays AutoGluon's start once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
from autogluon.tabular import TabularPredictor

LABEL, WEIGHT = "__label__", "__weight__"


def fit(folder: Path, preset: str, time_limit: float, exclude: list[str]) -> None:
    train = pd.read_parquet(folder / "train.parquet")
    weighted = WEIGHT in train.columns
    predictor = TabularPredictor(label=LABEL, problem_type="regression", path=str(folder / "predictor"),
                                 sample_weight=WEIGHT if weighted else None, verbosity=0)
    predictor.fit(train, presets=preset, time_limit=time_limit, excluded_model_types=exclude or None)
    predictor.delete_models(models_to_keep="best", dry_run=False)  # what predicting needs, no more
    predictor.save_space()


def serve(folder: Path) -> None:
    predictor = TabularPredictor.load(str(folder / "predictor"), require_py_version_match=False)
    for line in sys.stdin:
        rows, out = line.rstrip("\n").split("\t")
        prediction = predictor.predict(pd.read_parquet(rows)).to_numpy(float)
        pd.DataFrame({"prediction": prediction}).to_parquet(out)
        print("done", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("task", choices=["fit", "serve"])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--preset", default="medium_quality")
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("--exclude", default="")
    args = parser.parse_args()
    if args.task == "fit":
        fit(args.folder, args.preset, args.time_limit, [t for t in args.exclude.split(",") if t])
    else:
        serve(args.folder)


if __name__ == "__main__":
    main()
