"""popfusion against AutoGluon and trivial baselines on real posts of other platforms.

    python benchmarks/real.py                                   # every case, every system
    python benchmarks/real.py --cases hackernews --systems fast,ag_medium
    python benchmarks/real.py --report-only                     # rewrite BENCHMARKS.md

Cases (research-only data, read from ../shared, never copied): the three sets in
../shared/data/real (Hacker News, vaccine tweets, YouTube trending), each split 2:1 by
time, and the real SMPD labels with users (../shared/data/smpd_train_uid_sample.csv,
split 2:1 by its time rank as benchmarks/user_history_real.py does).

Every system gets the same file: the training rows with labels and the test rows
without, every column as the platform gave it. popfusion is told only which columns
are the post id, the user and the time (`--map`), as a new user would; every other
column is its to use. AutoGluon's TabularPredictor gets the same columns (the id
dropped) in its own virtual environment (benchmarks/compare.py makes it). Scores are on
the test rows: SRC and MAE with bootstrap intervals, wall time and peak memory (PSS of
the process tree). Results go to benchmarks/results/real-<case>.json, one system at a
time, and BENCHMARKS.md gets one table per case.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from compare import measure, run_autogluon
from report import ROOT, machine, write_section
from user_history_real import SAMPLE, read_sample

from popfusion import metrics
from popfusion.atomic import atomic_write
from popfusion.models.autogluon import venv_python

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
REAL = ROOT.parent / "shared" / "data" / "real"
CASES = {  # name -> (what it is, the column map a user would give)
    "hackernews": ("Hacker News stories, label log1p(points)", "id=id,user=user,time=time"),
    "vaccine_tweets": ("Pfizer vaccine tweets, label log1p(favorites)", "id=id,user=user,time=time"),
    "youtube_trending": ("YouTube trending videos, label log1p(views); post id = video id:country, as a video "
                         "trends in both countries", "id=id,user=user,time=time"),
    "smpd_users": ("real SMPD labels with users and time ranks only", "id=id,user=user,time=time"),
}
SYSTEMS = {
    "mean": "train mean", "user_mean": "each user's train mean", "fast": "popfusion fast",
    "smp": "popfusion smp", "ag_medium": "AutoGluon medium_quality", "ag_best": "AutoGluon best_quality",
}
POPFUSION = {"fast": "fast", "smp": "smp"}


def read_case(case: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) as the platform gave them, every column a string; labels in both."""
    if case == "smpd_users":
        sample = read_sample()
        frame = pd.DataFrame({"id": sample["post_id"], "user": sample["user_id"],
                              "time": sample["posted_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                              "label": sample["label"].astype(str)})
        train = sample["split"].to_numpy() == "train"
        return frame[train].reset_index(drop=True), frame[~train].reset_index(drop=True)
    parts = [pd.read_csv(REAL / case / f"{part}.csv", dtype=str, keep_default_na=False)
             for part in ("train", "test")]
    if case == "youtube_trending":  # a video trends in the US and in GB: one post per country
        parts = [p.assign(id=p["id"] + ":" + p["country"]) for p in parts]
    return parts[0], parts[1]


def scores(y: np.ndarray, pred: np.ndarray, bootstrap: int) -> dict:
    if np.isnan(pred).any():
        raise RuntimeError(f"{np.isnan(pred).sum()} test posts have no prediction")
    return metrics.bootstrap(y, pred, n=bootstrap)


def baseline(system: str, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    y = train["label"].astype(float)
    if system == "mean":
        return np.full(len(test), y.mean())
    by_user = y.groupby(train["user"]).mean()
    return test["user"].map(by_user).fillna(y.mean()).to_numpy(float)


def run_popfusion(preset: str, case: str, file: Path, work: Path) -> tuple[np.ndarray, dict]:
    """``popfusion run PRESET`` from an empty cache on the case's file; test predictions."""
    home, run_dir = work / f"home-{preset}", work / f"run-{preset}"
    shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(run_dir, ignore_errors=True)
    cli = [sys.executable, "-c", "from popfusion.cli import app; app()"]
    cost = measure([*cli, "run", preset, "--data", str(file), "--map", CASES[case][1], "--out", str(run_dir)],
                   {"POPFUSION_HOME": str(home)}, work / f"{preset}.log")
    test = pd.read_parquet(run_dir / "test_predictions.parquet")
    report = json.loads((run_dir / "metrics.json").read_text())
    cost["weights"] = report["fusion_weights"]
    cost["drift"] = report["drift"]
    return test.set_index("post_id")["final_drift"], cost


def autogluon(system: str, train: pd.DataFrame, test: pd.DataFrame, work: Path,
              args: argparse.Namespace) -> tuple[pd.Series, dict]:
    python = venv_python(args.ag_venv)
    frames = {"train": _as_read(train).rename(columns={"id": "post_id"}),
              "test": _as_read(test.drop(columns="label")).rename(columns={"id": "post_id"})}
    frames["new"] = frames["test"]
    preset = "medium_quality" if system == "ag_medium" else "best_quality"
    limit = args.ag_medium_limit if system == "ag_medium" else args.ag_best_limit
    pred, cost = run_autogluon(python, frames, preset, limit, work, system)
    cost["time_limit"] = limit
    cost.pop("predict_seconds", None)
    cost.pop("new_posts", None)
    return pred.set_index("post_id")["prediction"], cost


def _as_read(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as ``pd.read_csv`` gives it with its defaults (numbers parsed), as an
    AutoGluon user would load the file; ids stay strings."""
    return pd.read_csv(io.StringIO(frame.to_csv(index=False)), dtype={"id": str})


def run_case(case: str, systems: list[str], args: argparse.Namespace) -> dict:
    work = args.work / case
    work.mkdir(parents=True, exist_ok=True)
    train, test = read_case(case)
    file = work / f"{case}.csv"  # training rows labelled, test rows not: what a user would bring
    pd.concat([train, test.assign(label="")]).to_csv(file, index=False)
    path = RESULTS / f"real-{case}.json"
    result = json.loads(path.read_text()) if path.exists() else {"case": case, "systems": {}}
    result.update(case=case, description=CASES[case][0], machine=machine(), train_rows=len(train),
                  test_rows=len(test), column_map=CASES[case][1], columns=list(train.columns))
    y = test["label"].astype(float).to_numpy()
    for system in systems:
        print(f"== {case}: {SYSTEMS[system]}", flush=True)
        start = time.perf_counter()
        if system in ("mean", "user_mean"):
            pred, cost = baseline(system, train, test), {}
            cost["wall_seconds"] = time.perf_counter() - start
        else:
            if system in POPFUSION:
                by_id, cost = run_popfusion(POPFUSION[system], case, file, work)
            else:
                by_id, cost = autogluon(system, train, test, work, args)
            pred = by_id.reindex(test["id"].astype(str)).to_numpy(float)
        result["systems"][system] = {"name": SYSTEMS[system], "date": time.strftime("%Y-%m-%d"), **cost,
                                     **scores(y, pred, args.bootstrap)}
        print(json.dumps({k: v for k, v in result["systems"][system].items() if k != "weights"},
                         default=float), flush=True)
        RESULTS.mkdir(exist_ok=True)
        atomic_write(path, json.dumps(result, indent=2, default=float))
    return result


# -- the report ----------------------------------------------------------------------------

def _interval(m: dict, digits: int) -> str:
    return f"{m['value']:.{digits}f} ({m['low']:.{digits - 1}f}-{m['high']:.{digits - 1}f})"


def table(result: dict) -> str:
    rows = ["| system | SRC (95% CI) | MAE (95% CI) | wall | peak memory |", "|---|---|---|---|---|"]
    for key in SYSTEMS:
        s = result["systems"].get(key)
        if s is None:
            continue
        wall = f"{s['wall_seconds']:.1f} s" if s["wall_seconds"] < 120 else f"{s['wall_seconds'] / 60:.1f} min"
        limit = f" (limit {s['time_limit']:.0f} s)" if "time_limit" in s else ""
        peak = f"{s['peak_gb']:.1f} GB" if "peak_gb" in s else ""
        src = _interval(s["src"], 4) if np.isfinite(s["src"]["value"]) else "- (constant)"
        rows.append(f"| {s['name']} | {src} | {_interval(s['mae'], 3)} | {wall}{limit} | {peak} |")
    return "\n".join(rows)


def targets(result: dict) -> list[str]:
    s = result["systems"]
    if "fast" not in s or "ag_best" not in s:
        return []
    fast, best = s["fast"], s["ag_best"]
    return [f"- fast vs AutoGluon best: SRC {fast['src']['value'] - best['src']['value']:+.4f} (target > 0), "
            f"MAE {fast['mae']['value'] - best['mae']['value']:+.4f} (target < 0), "
            f"wall time x{fast['wall_seconds'] / best['wall_seconds']:.2f} (target <= 0.33)"]


def write_report() -> None:
    parts = ["## Real posts of other platforms", "",
             "`python benchmarks/real.py`: popfusion and AutoGluon given the same file (training rows "
             "labelled, test rows not, every column the platform gave), scored on the later third "
             "by time. popfusion is told only the id, user and time columns; AutoGluon gets every "
             "column but the id, in its own environment, medium_quality and best_quality with the "
             "time limits shown. Data: ../shared/data/real (see its README) and the real SMPD "
             "labels with users (" + SAMPLE.name + ").", ""]
    for case in CASES:
        path = RESULTS / f"real-{case}.json"
        if not path.exists():
            continue
        r = json.loads(path.read_text())
        parts += [f"### {case}", "",
                  f"{r['description']}; {r['train_rows']:,} training and {r['test_rows']:,} test posts; "
                  f"columns {', '.join(r['columns'])}; on {r['machine']}. Reproduce: "
                  f"`python benchmarks/real.py --cases {case}`.", "", table(r), "", *targets(r)]
        notes = r.get("notes", [])
        parts += [f"- {n}" for n in notes] + [""]
    write_section("\n".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--work", type=Path, default=Path("/tmp/popfusion-real"))
    parser.add_argument("--ag-venv", type=Path, default=Path.home() / ".cache" / "popfusion" / "ag-venv")
    parser.add_argument("--ag-medium-limit", type=float, default=1800.0)
    parser.add_argument("--ag-best-limit", type=float, default=600.0)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    if not args.report_only:
        for case in args.cases.split(","):
            if case not in CASES:
                parser.error(f"unknown case {case!r}; known: {', '.join(CASES)}")
            run_case(case, [s for s in SYSTEMS if s in args.systems.split(",")], args)
    write_report()
    print(f"BENCHMARKS.md: section 'Real posts of other platforms' ({os.fspath(ROOT / 'BENCHMARKS.md')})")


if __name__ == "__main__":
    main()
