"""Faster settings of the fast preset's two tree models, side by side with today's, on
the same features: what each costs in hold-out SRC and MAE and saves in fit time.

    python benchmarks/gbdt_speed.py --posts 50000 --cases hackernews,vaccine_tweets,smpd_users
    python benchmarks/gbdt_speed.py --report-only

One `popfusion run` per data set, from an empty cache: the fast preset's features, and
every variant below as its own model in the same run, so they see the same rows and the
same folds. Each variant's hold-out score (the validation stage's refit predicting the
latest fifth of training time, which no feature block and no model of that stage saw
labelled) and its validation fit seconds (3 folds and the refit) come from the run's
metrics.json. Results go to benchmarks/results/gbdt_speed.json; BENCHMARKS.md gets the
"Faster trees" section.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import yaml
from compare import measure
from report import ROOT, machine, write_section
from trainer import arguments, targets

RESULTS = Path(__file__).resolve().parent / "results" / "gbdt_speed.json"
VARIANTS = {  # name -> (model, feature groups, parameters); bin255, b254 and ctr 4: the libraries' defaults
    "lgb_all_bin255": ("lightgbm", ["all"], {"max_bin": 255}),
    "lgb_all_bin63": ("lightgbm", ["all"], {"max_bin": 63}),
    "lgb_all_lr06": ("lightgbm", ["all"], {"max_bin": 255, "learning_rate": 0.06}),
    "cat_user_b254": ("catboost", ["meta", "user"], {"border_count": 254, "max_ctr_complexity": 4}),
    "cat_user_b64": ("catboost", ["meta", "user"], {"border_count": 64, "max_ctr_complexity": 4}),
    "cat_user_lr10": ("catboost", ["meta", "user"], {"border_count": 254, "learning_rate": 0.1,
                                                     "max_ctr_complexity": 4}),
    "cat_user_ctr1": ("catboost", ["meta", "user"], {"border_count": 64, "max_ctr_complexity": 1}),
    "cat_user_ctr2": ("catboost", ["meta", "user"], {"border_count": 64, "max_ctr_complexity": 2}),
}


def recipe(work: Path, variants: list[str]) -> Path:
    """The fast preset's features with every variant as a model, and no fusion pruning
    cost beyond the validation stage (the final fit keeps what the blend weighs)."""
    fast = yaml.safe_load((ROOT / "src" / "popfusion" / "recipes" / "fast.yaml").read_text())
    fast["name"] = "gbdt_speed"
    fast["models"] = [{"name": n, "model": m, "features": f, "params": p}
                      for n, (m, f, p) in VARIANTS.items() if n in variants]
    fast["bootstrap"] = 0
    path = work / "gbdt_speed.yaml"
    path.write_text(yaml.safe_dump(fast, sort_keys=False))
    return path


def run_one(name: str, data: Path, column_map: str | None, work: Path, variants: list[str]) -> dict:
    out = work / name.replace(" ", "_")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cli = [sys.executable, "-c", "from popfusion.cli import app; app()", "run", str(recipe(work, variants)),
           "--data", str(data), "--out", str(out / "run"), *(["--map", column_map] if column_map else [])]
    cost = measure(cli, {"POPFUSION_HOME": str(out / "home")}, out / "log.txt")
    report = json.loads((out / "run" / "metrics.json").read_text())
    shutil.rmtree(out / "home", ignore_errors=True)
    seconds, holdout = report["fit_seconds"]["validation"], report["holdout"]
    date = time.strftime("%Y-%m-%d")
    return {"machine": machine(), "models": {
        m: {"src": holdout[m]["src"]["value"], "mae": holdout[m]["mae"]["value"], "seconds": seconds[m],
            "date": date, "wall_seconds": cost["wall_seconds"]} for m in variants if m in seconds}}


def report(results: dict) -> None:
    lines = ["## Faster trees", "`python benchmarks/gbdt_speed.py`: the fast preset's features with its tree "
             "models in faster settings beside today's, in one run per data set (same rows, same folds). "
             "Hold-out SRC and MAE (the validation stage's refit on the latest fifth of training time) and "
             "validation fit seconds (3 folds and the refit). One hold-out each, so differences of a "
             "hundredth of SRC on the real cases are within noise; `max_bin: 63` (LightGBM), "
             "`border_count: 64` and `max_ctr_complexity: 2` (CatBoost) are the defaults since this "
             "benchmark. Compare rows of the same run (same date) only.", ""]
    for name, r in results.items():
        lines += [f"### {name} ({r['machine']})", "", "| model | SRC | MAE | fit seconds | run of |",
                  "|---|---|---|---|---|"]
        lines += [f"| {m} | {s['src']:.4f} | {s['mae']:.4f} | {s['seconds']:.0f} | {s['date']} |"
                  for m, s in r["models"].items()]
        lines.append("")
    write_section("\n".join(lines))


def main() -> None:
    parser = arguments(__doc__, "/tmp/popfusion-gbdt-speed")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="comma-separated: the variants to run (others keep their earlier results); "
                             "compare only rows of the same run")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if not args.report_only:
        args.work.mkdir(parents=True, exist_ok=True)
        variants = args.variants.split(",")
        for name, data, column_map, _ in targets(args):
            print(f"== {name}", flush=True)
            new = run_one(name, data, column_map, args.work, variants)
            earlier = results.get(name, {}).get("models", {})
            results[name] = {"machine": new["machine"], "models": {**earlier, **new["models"]}}
            RESULTS.write_text(json.dumps(results, indent=1))
            print(json.dumps(results[name], indent=1), flush=True)
    report(results)


if __name__ == "__main__":
    main()
