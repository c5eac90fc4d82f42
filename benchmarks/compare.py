"""popfusion against AutoGluon and a HyFea-style CatBoost, side by side on one synthetic
SMPD and one machine.

    python benchmarks/compare.py --posts 10000            # every system, writes BENCHMARKS.md
    python benchmarks/compare.py --posts 100000 --systems fast,ag_best
    python benchmarks/compare.py --posts 486194 --systems smp --resume   # carry a stopped run on

For each system: SRC and MAE on the chronological test split (the last third by time)
with bootstrap intervals, the best SRC any model could reach (the generator's noise-free
scores), training wall time, prediction throughput on unseen posts (a fresh synthetic
set, so nothing is cached), and peak memory of the whole process tree (sampled sum of PSS).
A popfusion run that is stopped (smp on full SMPD outlasts a working session) carries on
with --resume from its feature cache and model checkpoints; its wall time is the sum of
its sittings, each counted to its last sample.

Systems: popfusion `fast` and `smp` (each from an empty feature cache); AutoGluon
TabularPredictor `medium_quality` and `best_quality` on the canonical post table (text,
categories, times, user id, image statistics; AutoGluon's own text handling) with the
`smp` run's wall time as its time limit; AutoGluon `best_quality` on popfusion's `fast`
feature frame; and HyFea (benchmarks/hyfea.py). AutoGluon is a peer, not a dependency:
the first run installs it into its own virtual environment (--ag-venv) and says how long
that took. Results go to benchmarks/results/compare-<posts>.json; BENCHMARKS.md gets one
table per size and the plot benchmarks/compare.png.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
from report import machine, write_section

from popfusion import load, metrics
from popfusion.atomic import atomic_write
from popfusion.data import schema, synthetic
from popfusion.models.autogluon import venv_python

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
FULL_SIZE = 486_194  # posts in SMPD
SYSTEMS = {
    "fast": "popfusion fast", "smp": "popfusion smp", "ag_medium": "AutoGluon medium_quality",
    "ag_best": "AutoGluon best_quality", "ag_features": "AutoGluon best_quality on popfusion features",
    "hyfea": "HyFea-style CatBoost",
}


# -- measuring -----------------------------------------------------------------------------

# Reading smaps for every process of the tree costs CPU the measured run would otherwise
# have: every 0.2 s it took 10-15% of one core. Memory peaks last far longer than a second.
SAMPLE_SECONDS = 1.0

def tree_memory(root: psutil.Process) -> int:
    """Bytes the process tree holds: the sum of proportional set sizes (PSS), so pages
    forked children share copy-on-write with their parent count once, not once per
    process as a sum of RSS would (the USE encoder's workers are forked from a run that
    may hold gigabytes)."""
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # exited between listing and reading
            total += proc.memory_full_info().pss
    return total


def measure(cmd: list[str], env: dict | None = None, log: Path | None = None,
            on_sample: Callable[[float, int], None] | None = None) -> dict:
    """Run ``cmd``; its wall time and the peak memory of its whole process tree (PSS).
    ``on_sample(seconds so far, peak bytes so far)`` hears every sample and the end. The
    log keeps earlier runs' output, each under a line with its start time."""
    start = time.perf_counter()
    with open(log or os.devnull, "a") as out:
        out.write(f"== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(map(str, cmd))}\n")
        out.flush()
        proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT)
    peak = [0]

    def sample() -> None:
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                peak[0] = max(peak[0], tree_memory(root))
            if on_sample:
                on_sample(time.perf_counter() - start, peak[0])
            time.sleep(SAMPLE_SECONDS)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    code = proc.wait()
    thread.join()
    seconds = time.perf_counter() - start
    if on_sample:
        on_sample(seconds, peak[0])
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed with exit code {code}; see {log}")
    return {"wall_seconds": seconds, "peak_gb": peak[0] / 2**30, "memory": "pss"}


class Sittings:
    """Wall time and peak memory of a run that may be stopped and resumed over several
    sittings: smp on full SMPD takes longer than a working session lasts, and `popfusion
    run` resumes from its feature cache and model checkpoints. Each sitting's time and peak
    are saved as they grow, so a sitting that is killed still counts to its last sample."""

    def __init__(self, path: Path, resume: bool) -> None:
        self.path = path
        self.before = json.loads(path.read_text()) if resume and path.exists() else []
        self.now: dict | None = None  # this sitting, once it has been sampled

    def update(self, seconds: float, peak_bytes: int) -> None:
        self.now = {"seconds": round(seconds, 1), "peak_gb": peak_bytes / 2**30}
        atomic_write(self.path, json.dumps([*self.before, self.now]))

    def total(self) -> dict:
        """The sittings so far: their summed wall time, the highest peak, and how many."""
        sittings = [*self.before, self.now] if self.now else self.before
        return {"wall_seconds": sum(s["seconds"] for s in sittings),
                "peak_gb": max(s["peak_gb"] for s in sittings), "memory": "pss", "sittings": len(sittings)}


def scores(truth: pd.DataFrame, pred: pd.DataFrame, bootstrap: int) -> dict:
    joined = truth.merge(pred, on="post_id", how="left")
    if joined["prediction"].isna().any():
        raise RuntimeError(f"{joined['prediction'].isna().sum()} test posts have no prediction")
    return metrics.bootstrap(joined["label"], joined["prediction"], n=bootstrap)


# -- data ----------------------------------------------------------------------------------

def dataset(work: Path, posts: int, seed: int) -> Path:
    path = work / f"smpd-{posts}-{seed}"
    if not (path / synthetic.TRUTH).exists():
        synthetic.generate(path, synthetic.SynthSpec(posts=posts, seed=seed))
    return path


def canonical_for_autogluon(posts: pd.DataFrame) -> pd.DataFrame:
    """The canonical table as AutoGluon gets it: raw columns and image statistics, no
    description vectors, no paths or split."""
    from popfusion.features.image import ImageStats

    keep = [c for c in posts.columns if not schema.is_vector_column(c)
            and c not in ("image_path", "image_url", "split")]
    table = posts[keep].copy()
    if "image_path" in posts:
        stats = ImageStats().fit_transform(posts)
        table = pd.concat([table, stats], axis=1)
    for col in table.columns:
        if isinstance(table[col].dtype, pd.DatetimeTZDtype):
            table[col] = table[col].dt.tz_convert(None)  # AutoGluon wants naive times
        elif pd.api.types.is_string_dtype(table[col]):
            table[col] = table[col].astype(object)
    return table


# -- systems -------------------------------------------------------------------------------

def run_popfusion(preset: str, data: Path, new: Path, work: Path,
                  resume: bool = False) -> tuple[pd.DataFrame, dict]:
    """Train ``preset`` from an empty cache, or with ``resume`` carry on from the cache and
    checkpoints a stopped run left, counting the time of every sitting."""
    home, run_dir = work / f"home-{preset}", work / f"run-{preset}"
    if not resume:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(run_dir, ignore_errors=True)
    sittings = Sittings(work / f"{preset}.sittings.json", resume)
    env = {"POPFUSION_HOME": str(home)}
    cli = [sys.executable, "-c", "from popfusion.cli import app; app()"]
    measure([*cli, "run", preset, "--data", str(data), "--out", str(run_dir)], env, work / f"{preset}.log",
            sittings.update)
    fit = sittings.total()
    start = time.perf_counter()
    predict = [*cli, "predict", str(run_dir), "--data", str(new), "--out", str(work / f"new-{preset}.parquet")]
    subprocess.run(predict, env={**os.environ, **env}, check=True, capture_output=True)
    predict_seconds = time.perf_counter() - start
    test = pd.read_parquet(run_dir / "test_predictions.parquet")
    pred = test[["post_id", "final_drift"]].rename(columns={"final_drift": "prediction"})
    metrics_doc = json.loads((run_dir / "metrics.json").read_text())
    profile = {k: metrics_doc[k] for k in ("stage_seconds", "fit_seconds", "features") if k in metrics_doc}
    return pred, {**fit, "predict_seconds": predict_seconds, "profile": profile}


def run_autogluon(python: Path, frames: dict[str, pd.DataFrame], preset: str, budget: float, work: Path,
                  name: str, exclude: str = "") -> tuple[pd.DataFrame, dict]:
    folder = work / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for part, frame in frames.items():
        frame.to_parquet(folder / f"{part}.parquet")
    out = folder / "pred.parquet"
    fit = measure([str(python), str(HERE / "ag_worker.py"), "--train", str(folder / "train.parquet"),
                   "--test", str(folder / "test.parquet"), "--new", str(folder / "new.parquet"),
                   "--preset", preset, "--time-limit", f"{budget:.0f}", "--out", str(out),
                   "--model-dir", str(folder / "model"), "--exclude", exclude], log=work / f"{name}.log")
    info = json.loads(out.with_suffix(".json").read_text())
    shutil.rmtree(folder / "model", ignore_errors=True)  # gigabytes of bagged models
    return pd.read_parquet(out), {**fit, **info}


def run_hyfea(data: Path, new: Path, work: Path) -> tuple[pd.DataFrame, dict]:
    out = work / "hyfea.parquet"
    fit = measure([sys.executable, str(HERE / "hyfea.py"), "--data", str(data), "--new", str(new), "--out",
                   str(out)], log=work / "hyfea.log")
    return pd.read_parquet(out), {**fit, **json.loads(out.with_suffix(".json").read_text())}


def feature_frames(run_dir: Path, posts: pd.DataFrame, new: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """popfusion's `fast` features for AutoGluon: training and test posts as the run built
    them (label features out of fold or strictly earlier), unseen posts from the fitted blocks."""
    from popfusion.api import PopFusion
    from popfusion.features.pipeline import applicable, build_features, make_block

    model = PopFusion.load(run_dir / "model.pkl")
    blocks = applicable(posts, [make_block(b.block, b.params) for b in model.recipe.features])
    frame, _ = build_features(posts, blocks, model.cache_dir)
    frame = frame.reindex(columns=model.columns_).assign(post_id=posts["post_id"].to_numpy(),
                                                        label=posts["label"].to_numpy())
    train = posts["split"].to_numpy() == "train"
    new_frame = model.features(new).assign(post_id=new["post_id"].to_numpy())
    return {"train": frame[train], "test": frame[~train].drop(columns="label"), "new": new_frame}


# -- the comparison ------------------------------------------------------------------------

def compare(args: argparse.Namespace) -> dict:
    work = args.work / f"compare-{args.posts}"
    work.mkdir(parents=True, exist_ok=True)
    data = dataset(args.work, args.posts, args.seed)
    new_data = dataset(args.work, args.new_posts, args.seed + 1)
    truth = pd.read_parquet(data / synthetic.TRUTH)
    test_truth = truth[truth["split"] == "test"]
    result = {"posts": args.posts, "seed": args.seed, "machine": machine(), "new_posts": args.new_posts,
              "oracle_src": metrics.score(test_truth["label"], test_truth["expected_score"])["src"],
              "systems": {}}
    systems = [s for s in SYSTEMS if s in args.systems.split(",")]  # smp before AutoGluon (its budget)
    if "ag_features" in systems and "fast" not in systems and not (work / "run-fast" / "model.pkl").exists():
        systems.insert(0, "fast")  # AutoGluon on popfusion features needs the fast run's features
    budget = args.budget
    posts = new = None
    if any(s.startswith("ag") for s in systems):
        python = venv_python(args.ag_venv)
        posts, new = load(data), load(new_data)
    for system in systems:
        print(f"== {SYSTEMS[system]} ({args.posts:,} posts)", flush=True)
        if system in ("fast", "smp"):
            pred, cost = run_popfusion(system, data, new_data, work, args.resume)
            if system == "smp":
                budget = budget or cost["wall_seconds"]
        elif system == "hyfea":
            pred, cost = run_hyfea(data, new_data, work)
        else:
            limit = budget or 3600.0
            if system == "ag_features":
                frames = feature_frames(work / "run-fast", posts, new)
            else:
                table, new_table = canonical_for_autogluon(posts), canonical_for_autogluon(new)
                train = posts["split"].to_numpy() == "train"
                frames = {"train": table[train], "test": table[~train].drop(columns="label"),
                          "new": new_table.drop(columns="label")}
            preset = "medium_quality" if system == "ag_medium" else "best_quality"
            pred, cost = run_autogluon(python, frames, preset, limit, work, system, args.ag_exclude)
            cost["time_limit"] = limit
            if args.ag_exclude:
                cost["excluded_model_types"] = args.ag_exclude.split(",")
        cost["predict_posts_per_s"] = args.new_posts / cost.pop("predict_seconds")
        excluded = cost.get("excluded_model_types")
        name = SYSTEMS[system] + (f" without {', '.join(excluded)}" if excluded else "")
        result["systems"][system] = {"name": name, **cost,
                                     **scores(test_truth[["post_id", "label"]], pred, args.bootstrap)}
        print(json.dumps(result["systems"][system], default=float), flush=True)
        if not args.no_write:
            save(result)  # a long run stopped later keeps the systems it finished
    return result


def save(result: dict) -> Path:
    """Add ``result`` to benchmarks/results/compare-<posts>.json (systems run separately add up)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"compare-{result['posts']}.json"
    if path.exists():
        old = json.loads(path.read_text())
        result = {**old, **result, "systems": {**old["systems"], **result["systems"]}}  # notes stay
    path.write_text(json.dumps(result, indent=2, default=float))
    return path


# -- reporting -----------------------------------------------------------------------------

def table(result: dict) -> str:
    rows = ["| system | SRC (95% CI) | MAE (95% CI) | training wall | predict posts/s | peak memory |",
            "|---|---|---|---|---|---|"]
    for r in result["systems"].values():
        src, mae = r["src"], r["mae"]
        rows.append(f"| {r['name']} | {src['value']:.4f} ({src['low']:.3f}-{src['high']:.3f}) | "
                    f"{mae['value']:.4f} ({mae['low']:.3f}-{mae['high']:.3f}) | "
                    f"{_minutes(r)} | {r['predict_posts_per_s']:,.0f} | "
                    f"{r['peak_gb']:.1f} GB{'' if r.get('memory') == 'pss' else ' *'} |")
    return "\n".join(rows)


def reproduce(result: dict) -> list[str]:
    """The commands that rerun a size's systems as they ran: systems run with the same
    options share one command. An AutoGluon limit is written out, since by default it
    would be taken from a new smp run's wall time."""
    groups: dict[str, list[str]] = {}
    for key, system in result["systems"].items():
        options = f" --budget {system['time_limit']:.0f}" if "time_limit" in system else ""
        if system.get("excluded_model_types"):
            options += f" --ag-exclude {','.join(system['excluded_model_types'])}"
        groups.setdefault(options, []).append(key)
    base = f"python benchmarks/compare.py --posts {result['posts']} --seed {result['seed']}"
    return [f"`{base} --systems {','.join(keys)}{options}`" for options, keys in groups.items()]


def _minutes(system: dict) -> str:
    sittings = system.get("sittings", 1)
    return f"{system['wall_seconds'] / 60:.1f} min" + (f" in {sittings} sittings" if sittings > 1 else "")


def targets(result: dict) -> list[str]:
    """The issue's targets as ratios measured in this run."""
    s, out = result["systems"], []
    if {"smp", "ag_best"} <= set(s):
        d_src = s["smp"]["src"]["value"] - s["ag_best"]["src"]["value"]
        d_mae = s["smp"]["mae"]["value"] - s["ag_best"]["mae"]["value"]
        ratio = s["smp"]["wall_seconds"] / s["ag_best"]["wall_seconds"]
        # AutoGluon spends the whole limit it is given, so the time ratio is its limit's inverse
        limit = s["ag_best"]["time_limit"] / s["smp"]["wall_seconds"]
        out.append(f"smp vs AutoGluon best: SRC {d_src:+.4f} (target >= +0.02), MAE {d_mae:+.4f} (target < 0), "
                   f"wall time x{ratio:.2f} (target <= 0.5; AutoGluon's time limit was x{limit:.2f} "
                   "smp's wall time)")
    if {"fast", "ag_best"} <= set(s):
        d_src = s["fast"]["src"]["value"] - s["ag_best"]["src"]["value"]
        ratio = s["fast"]["wall_seconds"] / s["ag_best"]["wall_seconds"]
        out.append(f"fast vs AutoGluon best: SRC {d_src:+.4f} (target >= -0.01), wall time x{ratio:.2f} "
                   "(target <= 0.1)")
    if result["posts"] >= FULL_SIZE:
        out += [f"{s[k]['name']} peak memory: {s[k]['peak_gb']:.1f} GB (target < 12 GB at full size)"
                for k in ("fast", "smp") if k in s]
    return out


def profile(system: dict) -> str | None:
    """Where a popfusion run's time went: each stage, its slowest blocks, each model."""
    p = system.get("profile")
    if not p or "stage_seconds" not in p:
        return None
    parts = []
    for stage, seconds in p["stage_seconds"].items():
        where, kind = stage.split()
        if kind == "features":
            blocks = sorted(p["features"].get(where, []), key=lambda b: -b["seconds"])[:4]
            detail = ", ".join(f"{b['name']} {b['seconds']:.0f}" for b in blocks)
        else:
            fits = sorted(p["fit_seconds"][where].items(), key=lambda kv: -kv[1])
            detail = ", ".join(f"{m} {t:.0f}" for m, t in fits)
        parts.append(f"{stage} {seconds:.0f} s ({detail})")
    rest = system["wall_seconds"] - sum(p["stage_seconds"].values())
    return (f"{system['name']}, where the time went: {'; '.join(parts)}; reading, start and run folder "
            f"{rest:.0f} s")


def growth(results: list[dict]) -> list[str]:
    """How training cost grows between sizes, against n log n."""
    out = []
    for a, b in pairwise(results):
        for key in [k for k in SYSTEMS if k in a["systems"] and k in b["systems"]]:
            t = b["systems"][key]["wall_seconds"] / a["systems"][key]["wall_seconds"]
            n = b["posts"] / a["posts"]
            nlogn = n * np.log(b["posts"]) / np.log(a["posts"])
            names = a["systems"][key]["name"], b["systems"][key]["name"]
            caveat = "" if names[0] == names[1] else f"; not like for like: {names[0]}, then {names[1]}"
            limits = [r["systems"][key].get("time_limit") for r in (a, b)]
            if None not in limits:  # AutoGluon's time follows the limit it is given
                caveat += f"; time limits {limits[0]:,.0f} s, then {limits[1]:,.0f} s"
            out.append(f"{SYSTEMS[key]}: {a['posts']:,} -> {b['posts']:,} posts, time x{t:.1f} "
                       f"(n log n: x{nlogn:.1f}{caveat})")
    return out


def plot(results: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for key, name in SYSTEMS.items():
        runs = [r for r in results if key in r["systems"]]
        if not runs:
            continue
        n = [r["posts"] for r in runs]
        limited = any("time_limit" in r["systems"][key] for r in runs)  # AutoGluon: its time follows its limit
        style, label = ("o--", f"{name} (on a time limit)") if limited else ("o-", name)
        axes[0].plot(n, [r["systems"][key]["wall_seconds"] / 60 for r in runs], style, label=label)
        axes[1].plot(n, [r["systems"][key]["peak_gb"] for r in runs], style, label=label)
    for ax, ylabel in zip(axes, ("training wall time (min)", "peak memory (GB)"), strict=True):
        ax.set(xscale="log", yscale="log", xlabel="posts", ylabel=ylabel)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("popfusion, AutoGluon and HyFea by dataset size (2-core CPU)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(results: list[dict]) -> None:
    parts = ["## Against AutoGluon and HyFea",
             "`python benchmarks/compare.py --posts N` on a synthetic SMPD of N posts (train:test 2:1",
             "by time), every system on the same machine, one after the other. SRC and MAE on the test",
             "split with 95% bootstrap intervals; prediction speed on unseen posts (a fresh synthetic",
             "set, features computed from scratch); peak memory of the whole process tree (sum of PSS,",
             "so memory shared by forked workers counts once). AutoGluon's time limit is the `smp`",
             "run's wall time unless `--budget` sets it; each size's commands give the limits used.",
             "Timing differences to keep in mind: popfusion's",
             "wall time includes reading SMPD and building every feature, AutoGluon's starts from a",
             "prepared table (the image statistics it gets are computed outside its clock, about 10 s",
             "per 10K posts); popfusion's prediction speed is a cold `popfusion predict` command",
             "(process start, model load, features), AutoGluon's is `predict` on the fitted predictor",
             "already in memory. A popfusion run longer than a working session is carried on with",
             "`--resume` from its cache and checkpoints; its wall time is then the sum of its sittings.", ""]
    for r in results:
        parts += [f"### {r['posts']:,} posts", "",
                  f"On {r['machine']}; best SRC any model could reach (noise-free scores): "
                  f"**{r['oracle_src']:.4f}**. Reproduce: {'; '.join(reproduce(r))}.", "", table(r), ""]
        parts += [f"- {line}" for line in targets(r)]
        parts += [f"- {v['name']}: {v['note']}" for v in r["systems"].values() if v.get("note")]
        parts += [f"- {line}" for line in map(profile, r["systems"].values()) if line]
        if any(v.get("memory") != "pss" for v in r["systems"].values()):
            parts.append("- \\* peak memory as a sum of RSS over the process tree, measured before the "
                         "benchmark summed PSS: it counts pages that forked workers share with their parent "
                         "once per process, so it overstates a run that forks (popfusion's text encoder)")
        parts += [f"- {note}" for note in r.get("notes", [])] + [""]  # runs that gave no scores
    lines = growth(results)
    if lines:
        parts += ["Growth of training time:", "", *[f"- {line}" for line in lines], ""]
    if len(results) > 1:
        plot(results, HERE / "compare.png")
        parts += ["![wall time and peak memory against posts](benchmarks/compare.png)", ""]
    write_section("\n".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--new-posts", type=int, default=2000, help="unseen posts for prediction speed")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help=f"any of {', '.join(SYSTEMS)}")
    parser.add_argument("--budget", type=float, default=None,
                        help="AutoGluon time limit in seconds (default: the smp run's wall time)")
    parser.add_argument("--ag-exclude", default="",
                        help="AutoGluon model types to leave out (e.g. RF,XT: its random forests can "
                             "overrun the time limit on large data, autogluon/autogluon#3904)")
    parser.add_argument("--resume", action="store_true",
                        help="popfusion systems carry on from the cache and checkpoints of a stopped run; "
                             "their wall time adds up every sitting")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--work", type=Path, default=Path("/tmp/popfusion-compare"))
    parser.add_argument("--ag-venv", type=Path, default=Path.home() / ".cache" / "popfusion" / "ag-venv")
    parser.add_argument("--no-write", action="store_true", help="print only; BENCHMARKS.md untouched")
    parser.add_argument("--report-only", action="store_true", help="rewrite BENCHMARKS.md from saved results")
    args = parser.parse_args()
    if not args.report_only:
        compare(args)
    if args.no_write:
        return
    results = sorted((json.loads(p.read_text()) for p in RESULTS.glob("compare-*.json")),
                     key=lambda r: r["posts"])
    write_report(results)
    print("BENCHMARKS.md updated")


if __name__ == "__main__":
    main()
