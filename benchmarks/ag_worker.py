"""The AutoGluon side of benchmarks/compare.py. Runs inside AutoGluon's own virtual
environment (compare.py makes it), so it imports nothing from popfusion.

    python ag_worker.py --train T.parquet --test S.parquet --new N.parquet \\
        --preset best_quality --time-limit 600 --out pred.parquet --model-dir DIR [--exclude RF,XT]

Writes the test predictions (post_id, prediction) and, beside them, a JSON with the fit
time, the time to predict the unseen posts and AutoGluon's best model.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
from autogluon.tabular import TabularPredictor


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("--train", "--test", "--new", "--out", "--model-dir"):
        parser.add_argument(name, type=Path, required=True)
    parser.add_argument("--preset", default="best_quality")
    parser.add_argument("--time-limit", type=float, required=True)
    parser.add_argument("--exclude", default="", help="AutoGluon model types to leave out, e.g. RF,XT")
    args = parser.parse_args()
    excluded = [t for t in args.exclude.split(",") if t]

    train, test, new = (pd.read_parquet(p) for p in (args.train, args.test, args.new))
    start = time.perf_counter()
    predictor = TabularPredictor(label="label", problem_type="regression", path=str(args.model_dir),
                                 verbosity=1).fit(train.drop(columns="post_id"), presets=args.preset,
                                                  time_limit=args.time_limit,
                                                  excluded_model_types=excluded or None)
    fit_seconds = time.perf_counter() - start
    prediction = predictor.predict(test.drop(columns=["post_id", "label"], errors="ignore"))
    start = time.perf_counter()
    predictor.predict(new.drop(columns=["post_id", "label"], errors="ignore"))
    predict_seconds = time.perf_counter() - start
    out = pd.DataFrame({"post_id": test["post_id"].to_numpy(), "prediction": prediction.to_numpy()})
    out.to_parquet(args.out)
    args.out.with_suffix(".json").write_text(json.dumps({
        "fit_seconds": fit_seconds, "predict_seconds": predict_seconds, "new_posts": len(new),
        "best_model": predictor.model_best}))


if __name__ == "__main__":
    main()
