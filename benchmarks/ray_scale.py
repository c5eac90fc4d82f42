"""popfusion on Ray against popfusion without it: one synthetic SMPD, one recipe and seed,
this machine.

    python benchmarks/ray_scale.py --posts 20000 --preset fast   # writes BENCHMARKS.md
    python benchmarks/ray_scale.py --posts 5000 --preset smp --no-images

Three runs, each from an empty feature cache:
1. without Ray (the baseline);
2. ``--ray auto``: a local Ray cluster of this machine's cores, so its cost over the
   baseline is Ray's overhead (the same fits, one at a time, each with every core);
3. a two-node cluster simulated on this machine (``ray start --head --num-cpus 1`` and a
   second node ``ray start --address ... --num-cpus 1``): fits ask for one CPU each, so
   two run at once, one on each node.
For each: wall time, peak memory of the process tree (the Ray processes of run 3 are
outside it, so its peak is the driver's alone), SRC and MAE on the test split, the largest
difference from the baseline's predictions, and how many tasks ran on each node (from the
run's log).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from compare import dataset, measure, scores
from report import machine, write_section

from popfusion.atomic import atomic_write
from popfusion.data import synthetic
from popfusion.recipe import load_recipe

HERE = Path(__file__).resolve().parent
CLI = [sys.executable, "-c", "from popfusion.cli import app; app()"]
HEAD_PORT = 6390
RAY_ENV = {"RAY_AUTH_MODE": "disabled"}  # a cluster of this machine's loopback only


def run(name: str, preset: str, data: Path, work: Path, extra: list[str], env: dict | None = None) -> dict:
    out, home = work / name, work / f"home-{name}"
    for folder in (out, home):
        shutil.rmtree(folder, ignore_errors=True)
    log = work / f"{name}.log"
    log.unlink(missing_ok=True)
    cost = measure([*CLI, "run", preset, "--data", str(data), "--out", str(out), *extra],
                   {"POPFUSION_HOME": str(home), **(env or {})}, log)
    found = re.search(r"Ray: (\d+) tasks on (\d+) node\(s\) \(([^)]*)\)", log.read_text())
    tasks = dict(part.split(": ") for part in found.group(3).split(", ")) if found else {}
    return {**cost, "tasks_by_node": {node: int(n) for node, n in tasks.items()}}


def two_nodes() -> None:
    """A head and a second node on this machine, one CPU each."""
    env = os.environ | RAY_ENV
    subprocess.run(["ray", "start", "--head", "--num-cpus", "1", "--port", str(HEAD_PORT),
                    "--include-dashboard=false"], env=env, check=True, capture_output=True)
    subprocess.run(["ray", "start", "--address", f"127.0.0.1:{HEAD_PORT}", "--num-cpus", "1"], env=env,
                   check=True, capture_output=True)


def stop_ray() -> None:
    subprocess.run(["ray", "stop", "--force"], env=os.environ | RAY_ENV, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path("/tmp/popfusion-ray"))
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--no-images", action="store_true", help="leave out the image blocks and models")
    args = parser.parse_args()
    work = args.work / f"{args.preset}{'-no-images' if args.no_images else ''}-{args.posts}"
    work.mkdir(parents=True, exist_ok=True)
    recipe = without_images(args.preset, work) if args.no_images else args.preset
    data = dataset(args.work, args.posts, args.seed)
    truth = pd.read_parquet(data / synthetic.TRUTH)
    truth = truth[truth["split"] == "test"]
    runs = {"no_ray": [], "ray_auto": ["--ray", "auto"],
            "ray_two_nodes": ["--ray", f"127.0.0.1:{HEAD_PORT}"]}
    result = {"posts": args.posts, "preset": args.preset, "no_images": args.no_images, "seed": args.seed,
              "machine": machine(),
              "date": pd.Timestamp.now().strftime("%Y-%m-%d"), "runs": {}}
    stop_ray()
    baseline = None
    for name, extra in runs.items():
        print(f"== {name}", flush=True)
        try:
            if name == "ray_two_nodes":
                two_nodes()
            cost = run(name, recipe, data, work, extra, RAY_ENV if "--ray" in extra else None)
        finally:
            stop_ray()
        pred = pd.read_parquet(work / name / "test_predictions.parquet")
        baseline = pred if baseline is None else baseline
        joined = baseline[["post_id", "final_drift"]].merge(pred[["post_id", "final_drift"]], on="post_id")
        got = scores(truth, pred[["post_id", "final_drift"]].rename(columns={"final_drift": "prediction"}),
                     args.bootstrap)
        diff = float(np.abs(joined.iloc[:, 1] - joined.iloc[:, 2]).max())
        result["runs"][name] = {**cost, "src": got["src"]["value"], "mae": got["mae"]["value"],
                                "max_diff_from_no_ray": diff}
        print(json.dumps(result["runs"][name], indent=1), flush=True)
    atomic_write(HERE / "results" / f"{work.name}.json".replace(args.preset, f"ray-{args.preset}", 1),
                 json.dumps(result, indent=1))
    write_section(section([json.loads(p.read_text()) for p in sorted((HERE / "results").glob("ray-*.json"))]))


def without_images(preset: str, work: Path) -> Path:
    """The preset without its image blocks and the models that read them, as a YAML file."""
    recipe = load_recipe(preset)
    image = {"image", "imgstat", "xmodal"}
    features = [b for b in recipe.features if b.block not in image and b.params.get("source") != "image"]
    models = [m for m in recipe.models if not set(m.features) & image]
    path = work / f"{preset}-no-images.yaml"
    data = recipe.model_copy(update={"name": f"{preset}-no-images", "features": features, "models": models})
    atomic_write(path, yaml.safe_dump(data.model_dump(), sort_keys=False))
    return path


def section(results: list[dict]) -> str:
    """One table per recipe and size measured."""
    parts = [
        "## On a Ray cluster",
        "",
        "`python benchmarks/ray_scale.py --posts N --preset P [--no-images]`: the same recipe and seed from an "
        "empty cache, without Ray, on a local Ray cluster of this machine's cores (`--ray auto`), and on two "
        "Ray nodes of one CPU each started on this machine with `ray start` (fits then ask for one CPU, so two "
        "run at once). Peak memory is the process tree of the command (PSS); the two-node cluster's workers "
        "are outside it.",
    ]
    for result in results:
        base = result["runs"]["no_ray"]["wall_seconds"]
        name = result["preset"] + (" without images" if result.get("no_images") else "")
        parts += ["", f"### {name}, {result['posts']:,} posts ({result['date']}; {result['machine']})", "",
                  "| run | wall time | peak memory | SRC | MAE | most a prediction differs from no Ray | "
                  "tasks per node |",
                  "|---|---|---|---|---|---|---|"]
        for run_name, r in result["runs"].items():
            nodes = ", ".join(str(n) for n in r["tasks_by_node"].values()) or "-"
            parts.append(f"| {run_name} | {r['wall_seconds'] / 60:.1f} min (x{r['wall_seconds'] / base:.2f}) | "
                         f"{r['peak_gb']:.1f} GB | {r['src']:.4f} | {r['mae']:.4f} | "
                         f"{r['max_diff_from_no_ray']:.2g} | {nodes} |")
    return "\n".join(parts)


if __name__ == "__main__":
    main()
