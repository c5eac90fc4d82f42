"""Quality on the built-in sample: hold-out SRC and MAE of every model, tier and the
final blend, next to the best SRC any model could reach (the generator's noise-free
scores on the same posts).

    popfusion run && python benchmarks/sample_quality.py --run runs/sample

Writes the "Quality on the built-in sample" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
from report import machine, write_section
from scipy.stats import spearmanr

from popfusion.data.synthetic import read_truth, sample_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=Path("runs/sample"))
    parser.add_argument("--data", type=Path, default=None, help="the run's data (default: the sample)")
    args = parser.parse_args()
    metrics = json.loads((args.run / "metrics.json").read_text())
    holdout = pd.read_parquet(args.run / "holdout.parquet")
    truth = read_truth(args.data or sample_path()).set_index("post_id")
    expected = truth.loc[holdout["post_id"], "expected_score"].to_numpy()
    oracle = spearmanr(holdout["label"], expected).statistic
    rows = [f"| {name} | {m['src']['value']:.4f} [{m['src']['low']:.3f}, {m['src']['high']:.3f}] | "
            f"{m['mae']['value']:.4f} [{m['mae']['low']:.3f}, {m['mae']['high']:.3f}] |"
            for name, m in metrics["holdout"].items()]
    singles = {k: v for k, v in metrics["holdout"].items() if not k.startswith(("tier2_", "final"))}
    best = max(singles, key=lambda k: singles[k]["src"]["value"])
    final = metrics["holdout"]["final_drift"]
    rounds = ", ".join(f"round {i}: SRC {r['src']:.4f} / MAE {r['mae']:.4f}"
                       for i, r in enumerate(metrics["pseudo_label_rounds"]))
    fitted = f"{len(metrics['final_models'])} of the {len(singles)} models, those the blend weighed: " + \
        ", ".join(metrics["final_models"])
    text = f"""## Quality on the built-in sample
`popfusion run` (the `sample` preset on the 6,000-post built-in sample) then
`python benchmarks/sample_quality.py`, on {machine()}. Hold-out: the latest 20% of the
training time ({len(holdout):,} posts), its labels hidden from features and models; 95%
bootstrap intervals. The best SRC any model could reach on these posts (the generator's
noise-free expected scores against the labels): **{oracle:.4f}**.

| model / tier | SRC | MAE |
|---|---|---|
{chr(10).join(rows)}

Best single model: {best} (SRC {singles[best]['src']['value']:.4f}, MAE {singles[best]['mae']['value']:.4f});
final blend with drift correction: SRC {final['src']['value']:.4f}, MAE {final['mae']['value']:.4f}.
Pseudo-label rounds (final blend on the hold-out): {rounds}.
A model the blend gave no weight to is left out of the next round and scored here from the
last round it was fitted in; the final stage fitted {fitted}.
Drift correction: {metrics["drift"]}.
"""
    write_section(text)
    print(text)


if __name__ == "__main__":
    main()
