"""What a part of the SMP systems adds to the fast preset, on real posts of other
platforms and synthetic SMPD: adversarial weights (`validation: {weight: adversarial}`:
each training post weighted by the odds that an out-of-fold classifier on label-free
features takes it for a post to predict) and AutoGluon as one more tier-1 model.

    python benchmarks/parts.py --cases vaccine_tweets,youtube_trending,hackernews --posts 10000
    python benchmarks/parts.py --parts autogluon --cases vaccine_tweets
    python benchmarks/parts.py --report-only

Each run is `popfusion run` from an empty cache in its own process, one after the other
on the same machine; test SRC and MAE of the final predictions with 95% bootstrap
intervals. Results go to benchmarks/results/parts.json; BENCHMARKS.md gets the "Parts of
the SMP systems" section.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from report import ROOT, write_section
from trainer import arguments, run_variants

from popfusion.models.autogluon import venv_python

RESULTS = Path(__file__).resolve().parent / "results" / "parts.json"
AUTOGLUON = {"name": "autogluon_all", "model": "autogluon", "features": ["all"],
             "params": {"preset": "medium_quality", "time_limit": 60}}
PARTS = {  # name -> (label, how it changes the fast recipe)
    "adversarial": ("fast, adversarial weights", lambda r: r["validation"].update(weight="adversarial")),
    "autogluon": ("fast + AutoGluon medium_quality (60 s a fit)", lambda r: r["models"].append(AUTOGLUON)),
}


def part_recipe(part: str, work: Path) -> str:
    """The fast preset with one part switched on, as a recipe file."""
    recipe = yaml.safe_load((ROOT / "src" / "popfusion" / "recipes" / "fast.yaml").read_text())
    recipe["name"] = f"fast_{part}"
    PARTS[part][1](recipe)
    for model in recipe["models"]:  # each run has a cache of its own: AutoGluon's environment is shared
        if model["model"] == "autogluon":
            model["params"]["python"] = str(venv_python(Path.home() / ".cache" / "popfusion" / "ag-venv"))
    path = work / f"fast_{part}.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return str(path)


def main() -> None:
    parser = arguments(__doc__, "/tmp/popfusion-parts")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"any of {', '.join(PARTS)}")
    parser.add_argument("--no-baseline", action="store_true", help="the parts only, not fast itself")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    variants = [] if args.no_baseline else [("fast", "fast", None)]
    variants += [(PARTS[p][0], part_recipe(p, args.work), None) for p in args.parts.split(",")]
    report(run_variants(variants, args, RESULTS, bootstrap=True))


def report(results: dict) -> None:
    lines = [f"| {name} | {label} | {r['src']:.4f} ({r['src_low']:.3f}-{r['src_high']:.3f}) | {r['mae']:.4f} | "
             f"{r['wall_seconds']:.0f} s |"
             for name, runs in results["runs"].items() for label, r in runs.items()]
    write_section(f"""## Parts of the SMP systems
`python benchmarks/parts.py` on {results['machine']}: `popfusion run fast` as shipped and with
one part switched on (`validation: {{weight: adversarial}}`; AutoGluon as one more tier-1
model), each from an empty cache, one after the other. Test SRC (95% bootstrap interval) and
MAE of the final predictions.

| data | system | SRC | MAE | wall |
|---|---|---|---|---|
{chr(10).join(lines)}

{results.get('notes', '')}
""")


if __name__ == "__main__":
    main()
