"""The trainer against the one before it, and the fast preset against itself with its
text embedding reduced by PCA, on synthetic SMPD and on real posts of other platforms.

    python benchmarks/trainer.py --posts 10000 100000        # this commit against --baseline
    python benchmarks/trainer.py --cases hackernews,vaccine_tweets --pca 32,128
    python benchmarks/trainer.py --report-only

Each run is `popfusion run` from an empty cache in its own process, one after the other on
the same machine; the baseline runs from a git worktree of ``--baseline`` (the commit
before the trainer redesign). Test SRC and MAE of the final drift-corrected predictions.
Results accumulate in benchmarks/results/trainer.json; writes the "One trainer" section of
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import yaml
from compare import dataset, measure
from real import CASES, read_case
from report import ROOT, machine, write_section

from popfusion import metrics
from popfusion.data import synthetic

RESULTS = Path(__file__).resolve().parent / "results" / "trainer.json"
BASELINE = "c107bdc"  # the last commit with two fully folded stages


def checkout(commit: str, work: Path) -> Path:
    """A worktree of ``commit`` whose ``src`` a run can put first on its path."""
    tree = work / f"tree-{commit}"
    if not tree.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-f", str(tree), commit], check=True,
                       capture_output=True)
    return tree / "src"


def fast_variant(name: str, work: Path, edit: Callable[[dict], None]) -> str:
    """The fast preset as ``edit`` changes it, saved as ``name``."""
    recipe = yaml.safe_load((ROOT / "src" / "popfusion" / "recipes" / "fast.yaml").read_text())
    edit(recipe)
    recipe["name"] = name
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return str(path)


def pca_recipe(components: int, work: Path) -> str:
    """The fast preset with its text embedding reduced to ``components`` principal axes."""
    def edit(recipe: dict) -> None:
        for block in recipe["features"]:
            if block["block"] == "text":
                block["params"]["components"] = components

    return fast_variant(f"fast_pca{components}", work, edit)


def fold_mean_recipe(work: Path) -> str:
    """The fast preset with the hold-out predicted by each model's fold models' mean."""
    return fast_variant("fast_fold_mean", work, lambda r: r["validation"].update(holdout_by="folds"))


def run(recipe: str, data: Path, column_map: str | None, truth: pd.DataFrame, src: Path | None,
        out: Path, bootstrap: bool = False) -> dict:
    """``popfusion run RECIPE`` from an empty cache; its cost and test scores (with
    ``bootstrap``, each metric's 95% interval as ``<metric>_low`` and ``<metric>_high``)."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = {"POPFUSION_HOME": str(out / "home"), **({"PYTHONPATH": str(src)} if src else {})}
    cli = [sys.executable, "-c", "from popfusion.cli import app; app()", "run", recipe, "--data", str(data),
           "--out", str(out / "run"), *(["--map", column_map] if column_map else [])]
    cost = measure(cli, env, out / "log.txt")
    pred = pd.read_parquet(out / "run" / "test_predictions.parquet")
    joined = truth.merge(pred[["post_id", "final_drift"]], on="post_id", how="left")
    shutil.rmtree(out / "home", ignore_errors=True)
    scores = metrics.score(joined["label"], joined["final_drift"])
    if bootstrap:
        found = metrics.bootstrap(joined["label"], joined["final_drift"])
        scores = {**scores, **{f"{m}_{end}": v[end] for m, v in found.items() for end in ("low", "high")}}
    return {**cost, **scores, "date": time.strftime("%Y-%m-%d")}


def targets(args: argparse.Namespace) -> list[tuple[str, Path, str | None, pd.DataFrame]]:
    """(name, data file, column map, test labels) of every data set asked for."""
    out = []
    for n in args.posts:
        data = dataset(args.work, n, 0)
        truth = pd.read_parquet(data / synthetic.TRUTH)
        out.append((f"synthetic {n:,}", data, None, truth.loc[truth["split"] == "test", ["post_id", "label"]]))
    for case in filter(None, args.cases.split(",")):
        train, test = read_case(case)
        file = args.work / f"{case}.csv"
        pd.concat([train, test.assign(label="")]).to_csv(file, index=False)
        truth = pd.DataFrame({"post_id": test["id"].astype(str), "label": test["label"].astype(float)})
        out.append((case, file, CASES[case][1], truth))
    return out


def arguments(doc: str, work: str) -> argparse.ArgumentParser:
    """What every benchmark of recipe variants takes: the data sets and a work folder."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, nargs="*", default=[])
    parser.add_argument("--cases", default="")
    parser.add_argument("--work", type=Path, default=Path(work))
    parser.add_argument("--report-only", action="store_true")
    return parser


def run_variants(variants: list[tuple[str, str, Path | None]], args: argparse.Namespace, path: Path,
                 bootstrap: bool = False) -> dict:
    """Each (label, recipe, source tree) variant on every data set asked for, one after the
    other; the results in ``path`` (kept from earlier runs, saved after each one)."""
    args.work.mkdir(parents=True, exist_ok=True)
    results = json.loads(path.read_text()) if path.exists() else {"machine": machine(), "runs": {}}
    if args.report_only:
        return results
    for name, data, column_map, truth in targets(args):
        for label, recipe, src in variants:
            print(f"== {name}: {label}", flush=True)
            result = run(recipe, data, column_map, truth, src, args.work / "runs", bootstrap)
            results["runs"].setdefault(name, {})[label] = result
            print(json.dumps(result, default=float), flush=True)
            path.write_text(json.dumps(results, indent=2, default=float))
    return results


def main() -> None:
    parser = arguments(__doc__, "/tmp/popfusion-trainer")
    parser.add_argument("--baseline", default=BASELINE, help="commit to compare with ('' for none)")
    parser.add_argument("--pca", default="", help="also fast with its text embedding on these many axes")
    parser.add_argument("--fold-mean", action="store_true",
                        help="also fast with the hold-out predicted by the fold models' mean (no refit)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    variants = [("fast", "fast", None)]
    if args.baseline and not args.report_only:
        variants.append((f"fast at {args.baseline}", "fast", checkout(args.baseline, args.work)))
    variants += [(f"fast, text PCA {k}", pca_recipe(int(k), args.work), None)
                 for k in filter(None, args.pca.split(","))]
    if args.fold_mean:
        variants.append(("fast, hold-out by the fold models' mean", fold_mean_recipe(args.work), None))
    report(run_variants(variants, args, RESULTS, bootstrap=True))


def report(results: dict) -> None:
    lines = []
    for name, runs in results["runs"].items():
        for label, r in runs.items():
            interval = f" ({r['src_low']:.4f}-{r['src_high']:.4f})" if "src_low" in r else ""
            lines.append(f"| {name} | {label} | {r['src']:.4f}{interval} | {r['mae']:.4f} | "
                         f"{r['wall_seconds']:.0f} s | {r['peak_gb']:.1f} GB | {r.get('date', '')} |")
    write_section(f"""## One trainer
`python benchmarks/trainer.py` on {results['machine']}: `popfusion run fast` with the trainer
that fits each kept model once on every label after the validation stage, against the
commit before it ({BASELINE}: two fully folded stages, each model fitted `2 * (folds + 1)`
times instead of `folds + 2`), and the fast preset with its text embedding reduced by PCA.
Test SRC and MAE of the final predictions; each run from an empty cache, one after the
other on the same machine.

| data | system | SRC (95% interval) | MAE | wall | peak memory | date |
|---|---|---|---|---|---|---|
{chr(10).join(lines)}

{results.get('notes', '')}
""")


if __name__ == "__main__":
    main()
