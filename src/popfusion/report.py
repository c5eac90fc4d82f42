"""The HTML report of a run, rendered from a Jinja2 template (templates/report.html.j2):
what the run did (date, durations, data, version, recipe, seed, machine), a leaderboard
with hold-out and out-of-fold scores side by side, what the hold-out decided, the errors,
the test period, feature importance by human names and families, and the blend. One
self-contained file, plots embedded as PNG; a panel without data is left out."""

from __future__ import annotations

import base64
import io
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from popfusion.atomic import atomic_write
from popfusion.plots import date_axis

FORWARD = (" and, where they disagree, held to its forward-in-time predictions for the hold-out (least"
           " worst-case regret over the two)")


def write_report(model, path: Path, data: str | None = None) -> Path:
    from importlib import resources

    import jinja2
    import matplotlib

    matplotlib.use("Agg")
    template = jinja2.Template(resources.files("popfusion.templates").joinpath("report.html.j2").read_text(),
                               autoescape=True, undefined=jinja2.StrictUndefined)
    return atomic_write(path, template.render(**context(model, data)))


def context(model, data: str | None = None) -> dict:
    """Everything the template shows, as plain values and base64 PNGs."""
    from popfusion import __version__

    v, recipe = model.validation_, model.recipe
    hold = v.predictions
    stages = model.stage_seconds_
    run = {"finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "popfusion": __version__,
           "recipe": recipe.name, "seed": recipe.seed, "data": data or recipe.data.path or "(given in memory)",
           "posts": f"{model.n_posts_:,} ({len(model.test_predictions_):,} to predict), "
                    f"{len(model.columns_):,} feature columns",
           "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
           "duration": f"{sum(stages.values()) / 60:.1f} min: "
                       + "; ".join(f"{k} {s / 60:.1f} min" for k, s in stages.items())}
    importance, note, top = _importance(model)
    test = model.test_predictions_["final_drift"]
    return {
        "recipe": recipe.name, "run": run, "recipe_yaml": yaml.safe_dump(recipe.model_dump(), sort_keys=False),
        "holdout_share": f"{recipe.validation.holdout:.0%}", "holdout_posts": f"{len(hold):,}",
        "leaderboard": [_formatted(r) for r in model.leaderboard().to_dict("records")],
        "decisions": _decisions(model), "drift": v.drift.explain(),
        "rounds": [{k: f"{s[k]:.4f}" for k in ("src", "mae")} for s in v.rounds] if len(v.rounds) > 1 else [],
        "test_spread": f"standard deviation {test.std():.3f} against {model.train_labels_['label'].std():.3f} "
                       "for the training labels",
        "importance_note": note, "top_features": top, "blend": v.blend.describe(),
        "forward": FORWARD if recipe.fusion.forward else "",
        "figures": {"drift": _png(_drift(hold)), "holdout": _png(_holdout(hold)),
                    "category": _png(_category(hold)), "test": _png(_test_period(model)),
                    "importance": _png(importance), "contributions": _png(_contributions(model))},
    }


def _formatted(row: dict) -> dict:
    def number(value, digits: int) -> str:
        return "" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.{digits}f}"

    interval = (f" [{row['holdout_src_low']:.3f}, {row['holdout_src_high']:.3f}]"
                if number(row.get("holdout_src_low"), 3) else "")
    scores = ("holdout_src", "holdout_mae", "oof_src", "oof_mae", "holdout_weight", "blend_weight")
    return {"model": row["model"], **{k: number(row[k], 4) for k in scores},
            "holdout_src_interval": interval,
            **{k: number(row[k], 1) for k in ("fit_seconds_validation", "fit_seconds_final")}}


def _decisions(model) -> str:
    v = model.validation_
    rounds = (f"{v.pseudo_rounds} pseudo-label round(s) helped and the final fit runs them"
              if len(v.rounds) > 1 else "no pseudo-label rounds were asked for")
    pruned = " (the models the final blend gives weight to)" if model.recipe.fusion.prune else ""
    return (f"The final fit fitted {', '.join(v.models)}{pruned} once a round on every label; {rounds}.")


def _png(fig) -> str | None:
    if fig is None:
        return None
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _times(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True).dt.tz_localize(None)


def _by_period(times: pd.Series, values: pd.Series, points: int = 40) -> pd.DataFrame:
    """Mean, 10th and 90th percentile of ``values`` in about ``points`` equal time bins."""
    t = _times(times)
    bins = pd.cut(t, bins=max(2, min(points, t.nunique())))
    grouped = pd.Series(values.to_numpy(), index=t.index).groupby(bins.to_numpy(), observed=True)
    frame = grouped.agg(["mean", lambda s: s.quantile(0.1), lambda s: s.quantile(0.9), "size"])
    frame.columns = ["mean", "low", "high", "n"]
    frame.index = [interval.mid for interval in frame.index]
    return frame[frame["n"] > 0]


def _drift(hold: pd.DataFrame):
    """The hold-out's residual over time, with the correction the run applies."""
    import matplotlib.pyplot as plt

    correction = hold["final_drift"] - hold["final"]
    residual = _by_period(hold["posted_at"], hold["label"] - hold["final"])
    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.plot(residual.index, residual["mean"], "o-", ms=3, label="mean residual (label - blend)")
    order = np.argsort(_times(hold["posted_at"]).to_numpy())
    ax.plot(_times(hold["posted_at"]).to_numpy()[order], correction.to_numpy()[order], "r-",
            label="correction applied")
    ax.axhline(0, color="#999", lw=0.8)
    ax.set(ylabel="label units", title="hold-out residual over time")
    ax.legend(loc="best", fontsize=8)
    date_axis(ax)
    return fig


def _holdout(hold: pd.DataFrame):
    import matplotlib.pyplot as plt

    pred, err = hold["final_drift"], hold["label"] - hold["final_drift"]
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(14, 4))
    a1.hexbin(hold["label"], pred, gridsize=40, cmap="Blues", mincnt=1)
    lo, hi = hold["label"].min(), hold["label"].max()
    a1.plot([lo, hi], [lo, hi], "r--", lw=1)
    a1.set(xlabel="true", ylabel="predicted", title="predicted against true")
    a2.hexbin(pred, err, gridsize=40, cmap="Greens", mincnt=1)
    a2.axhline(0, color="r", lw=1, ls="--")
    a2.set(xlabel="predicted", ylabel="residual (true - predicted)", title="residual against prediction")
    over = _by_period(hold["posted_at"], err.abs())
    a3.plot(over.index, over["mean"], "o-", ms=3, color="#4c72b0")
    a3.set(ylabel="mean absolute error", title="error over time")
    date_axis(a3)
    fig.tight_layout()
    return fig


def _category(hold: pd.DataFrame):
    """Mean absolute error by category, where the data has more than one."""
    if "category" not in hold or hold["category"].nunique() < 2:
        return None
    import matplotlib.pyplot as plt

    err = (hold["final_drift"] - hold["label"]).abs()
    by = err.groupby(hold["category"].fillna("(none)").to_numpy()).agg(["mean", "size"])
    by = by[by["size"] >= 5].sort_values("mean").tail(25)
    if by.empty:
        return None
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.25 * len(by))))
    ax.barh(by.index.astype(str), by["mean"], color="#55a868")
    ax.set(title="mean absolute error by category (hold-out, at least 5 posts)", xlabel="MAE")
    return fig


def _test_period(model):
    """Test predictions by time against the training labels, and their spreads."""
    import matplotlib.pyplot as plt

    test, train = model.test_predictions_, model.train_labels_
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(14, 4), gridspec_kw={"width_ratios": [2, 1]})
    for frame, column, name, color in ((train, "label", "training labels", "#999999"),
                                       (test, "final_drift", "test predictions", "#c44e52")):
        band = _by_period(frame["posted_at"], frame[column])
        a1.fill_between(band.index, band["low"], band["high"], color=color, alpha=0.25)
        a1.plot(band.index, band["mean"], color=color, label=f"{name}: mean, 10-90%")
    a1.legend(fontsize=8)
    a1.set(title="over time", ylabel="popularity")
    date_axis(a1)
    bins = np.linspace(min(train["label"].min(), test["final_drift"].min()),
                       max(train["label"].max(), test["final_drift"].max()), 50)
    a2.hist(train["label"], bins=bins, density=True, alpha=0.5, color="#999999", label="training labels")
    a2.hist(test["final_drift"], bins=bins, density=True, alpha=0.5, color="#c44e52", label="test predictions")
    a2.legend(fontsize=8)
    a2.set(title="distribution")
    fig.tight_layout()
    return fig


def _contributions(model, rows: int = 200):
    """How each feature family moves the scores of hold-out posts (their SHAP-style
    contributions through the validation stage's models and blend), families by mean
    absolute contribution."""
    families = model.explain_holdout(rows).by_family()
    if families.empty:
        return None
    import matplotlib.pyplot as plt

    order = families.columns[::-1]
    fig, ax = plt.subplots(figsize=(9, max(2.5, 0.45 * len(order))))
    ax.boxplot([families[c] for c in order], vert=False, tick_labels=list(order), showfliers=False,
               medianprops={"color": "#333"})
    for i, c in enumerate(order, start=1):
        jitter = np.random.default_rng(i).uniform(-0.15, 0.15, len(families))
        ax.scatter(families[c], i + jitter, s=4, alpha=0.35, color="#4c72b0")
    ax.axvline(0, color="#999", lw=0.8)
    ax.set(xlabel="contribution to the score", title=f"what moves scores: {len(families)} hold-out posts")
    fig.tight_layout()
    return fig


def _importance(model):
    """Permutation importance on the hold-out, one scale for every model (SRC lost when a
    feature, or a whole family, is shuffled), with the 95% range over the repeats."""
    features = model.feature_importance(top=20, repeats=3)
    families = model.feature_importance(by="family", repeats=3)
    if features.empty:
        return None, "", []
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(14, 6), gridspec_kw={"width_ratios": [3, 2]})
    for ax, frame, title in ((a1, features, "top features"), (a2, families, "by family")):
        frame = frame[::-1]
        errors = [frame["src_drop"] - frame["low"], frame["high"] - frame["src_drop"]]
        ax.barh(frame["human"], frame["src_drop"], xerr=errors, color="#8172b2", ecolor="#555")
        ax.axvline(0, color="#999", lw=0.8)
        ax.set(title=f"{title}: SRC lost when shuffled", xlabel="hold-out SRC lost")
        ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    rows = [{"feature": r.human, "column": r.name, "family": r.family,
             "share": f"{r.src_drop:.4f} [{r.low:.4f}, {r.high:.4f}]"} for r in features.head(10).itertuples()]
    note = ("Permutation importance on the hold-out, through the validation stage's models (which never saw "
            "a hold-out label): the hold-out SRC lost when a feature, or every feature of a family, is "
            "shuffled across posts; 3 shuffles, 95% range in brackets; one scale for every model.")
    return fig, note, rows
