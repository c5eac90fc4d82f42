"""The HTML report of a run: scores per model and tier, and the plots a user looks at
(predicted against true, error by month and by category, feature importance, fusion
weights). One self-contained file, plots embedded as PNG."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import pandas as pd

from popfusion.atomic import atomic_write

FORWARD = (" and, where they disagree, held to the validation models' forward-in-time predictions for the"
           " hold-out (least worst-case regret over the two)")
PRUNED = (", the models the final blend gives weight to; a pseudo-label round fits only the models its"
          " previous round's blend weighed")


def write_report(model, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    v = model.validation_
    hold = v.predictions
    sections = [
        f"<h1>popfusion run: {html.escape(model.recipe.name)}</h1>",
        f"<p>{model.n_posts_:,} posts; hold-out: the latest {model.recipe.validation.holdout:.0%} of "
        f"training time ({len(hold):,} posts). Scores on the hold-out with 95% bootstrap intervals.</p>",
        _scores_table(v.scores),
        "<h2>Pseudo-label rounds (hold-out, validation blend)</h2>",
        f"<p>The final fit ran {v.pseudo_rounds} round(s): those up to the best on the hold-out. "
        f"It fitted {html.escape(', '.join(v.models))} once a round on every label"
        f"{PRUNED if model.recipe.fusion.prune else ''}.</p>",
        _table(pd.DataFrame(v.rounds).rename_axis("round").reset_index()),
        f"<h2>Drift correction</h2><p>{html.escape(v.drift.explain())}</p>",
        "<h2>Predicted against true (hold-out)</h2>", _img(_scatter(hold)),
        "<h2>Error by month and by category (hold-out)</h2>", _img(_errors(hold)),
        "<h2>Feature importance</h2>", _img(_importance(model.final_.importance)),
        "<h2>Fusion weights</h2>",
        f"<p>These blend the test posts' predictions; chosen on the validation stage's out-of-fold predictions"
        f"{FORWARD if model.recipe.fusion.forward else ''}.</p>",
        _weights(v.blend.describe()),
    ]
    page = ("<!doctype html><meta charset='utf-8'><title>popfusion report</title>"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}</style>" + "\n".join(sections))
    return atomic_write(path, page)


def _scores_table(scores: dict) -> str:
    rows = []
    for name, m in scores.items():
        cells = [f"{m[k]['value']:.4f}" + (f" [{m[k]['low']:.3f}, {m[k]['high']:.3f}]" if "low" in m[k] else "")
                 for k in ("src", "mae", "pearson", "rmse")]
        rows.append(f"<tr><th>{html.escape(name)}</th>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return ("<table><tr><th>model / tier</th><th>SRC</th><th>MAE</th><th>Pearson</th><th>RMSE</th></tr>"
            + "".join(rows) + "</table>")


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.4f}")


def _weights(weights: dict) -> str:
    return "".join(f"<h3>{html.escape(tier)}</h3>" + _table(pd.DataFrame(
        {"input": list(w), "weight": list(w.values())})) for tier, w in weights.items())


def _img(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return f"<img src='data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}'>"


def _scatter(hold: pd.DataFrame):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.hexbin(hold["label"], hold["final_drift"], gridsize=40, cmap="Blues", mincnt=1)
    lo, hi = hold["label"].min(), hold["label"].max()
    ax.plot([lo, hi], [lo, hi], "r--", lw=1)
    ax.set(xlabel="true popularity", ylabel="predicted", title="final blend, hold-out")
    return fig


def _errors(hold: pd.DataFrame):
    import matplotlib.pyplot as plt

    err = (hold["final_drift"] - hold["label"]).abs()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    month = pd.to_datetime(hold["posted_at"]).dt.strftime("%Y-%m")
    err.groupby(month.to_numpy()).mean().plot.bar(ax=a1, color="#4c72b0")
    a1.set(title="mean absolute error by month", xlabel="")
    if "category" in hold:
        err.groupby(hold["category"].fillna("(none)").to_numpy()).mean().sort_values().plot.barh(
            ax=a2, color="#55a868")
    a2.set(title="mean absolute error by category", ylabel="")
    fig.tight_layout()
    return fig


def _importance(importance: dict):
    import matplotlib.pyplot as plt

    usable = {k: v for k, v in importance.items() if v is not None and len(v)}
    fig, ax = plt.subplots(figsize=(7, 6))
    if usable:
        name, imp = max(usable.items(), key=lambda kv: len(kv[1]))
        top = (imp / imp.sum()).head(25)[::-1]
        ax.barh(top.index, top.to_numpy(), color="#8172b2")
        ax.set(title=f"top features of {name} (share of importance)")
    ax.tick_params(axis="y", labelsize=7)
    return fig

