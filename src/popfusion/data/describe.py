"""Summaries of a post table: what a user checks before training on it.

Each section appears only when the table has the columns it needs, so a labels-only
file is summarised as far as it goes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from popfusion.data.columns import KINDS, as_dates, as_numbers, infer_types
from popfusion.data.schema import is_vector_column, missing_mask
from popfusion.plots import date_axis

if TYPE_CHECKING:
    from popfusion.adversarial import Adversarial

LEAK_SRC = 0.9  # a column that ranks the labels this well was likely measured after posting


def describe(table: pd.DataFrame) -> dict:
    """A JSON-ready summary: rows, missing values, labels, users, time span, drift."""
    out: dict = {"rows": len(table)}
    if "split" in table:
        out["rows_by_split"] = {str(k): int(v) for k, v in table["split"].value_counts().items()}
    out["missing"] = _missing(table)
    labelled = table[table["label"].notna()] if "label" in table else table.iloc[:0]
    if len(labelled):
        out["label"] = label_summary(labelled["label"])
    if "user_id" in table:
        out["posts_per_user"] = posts_per_user(table["user_id"])
    if "posted_at" in table:
        out["time_span"] = _time_span(table)
        if len(labelled):
            out["label_by_month"] = label_by_month(labelled)
            out["label_by_time_decile"] = label_by_time_decile(labelled)
        if "crawled_at" in table and table["crawled_at"].notna().any():
            out["crawled"] = crawl_lag(table)
    kinds = infer_types(table)
    if kinds:
        out["columns"] = [column_summary(table, c, k, labelled) for c, k in kinds.items()]
        out["warnings"] = [f"column {c['column']!r} ranks the labels with |SRC| {abs(c['label_src']):.2f} "
                           "(out of fold): it looks like engagement measured after posting, a leak; "
                           "drop it (columns block: params: {drop: [...]}) unless it is known before "
                           "a post goes out" for c in out["columns"] if c["leak"]]
    return out


def column_summary(table: pd.DataFrame, column: str, kind: str, labelled: pd.DataFrame) -> dict:
    """A platform column's inferred kind, what popfusion does with it, its missing share,
    distinct values, and how well it alone ranks the labels: numbers as they are, other
    values through their out-of-fold mean label (5 folds), so that a column which is the
    label in disguise stands out (``leak``)."""
    values = table[column]
    src = np.nan
    if len(labelled) > 20 and kind not in ("id", "empty", "drop", "text", "list"):
        x = _as_score(labelled, column, kind)
        ok = np.isfinite(x)
        if ok.sum() > 20 and np.ptp(x[ok]) > 0:
            src = float(pd.Series(x[ok]).corr(labelled["label"][ok].reset_index(drop=True), method="spearman"))
    return {"column": column, "kind": kind, "use": KINDS[kind],
            "missing": round(float(missing_mask(values).mean()), 4),
            "distinct": int(values.nunique()), "label_src": None if np.isnan(src) else round(src, 4),
            "leak": bool(not np.isnan(src) and abs(src) > LEAK_SRC)}


def _as_score(labelled: pd.DataFrame, column: str, kind: str) -> np.ndarray:
    values = labelled[column]
    if kind in ("numeric", "boolean"):
        return as_numbers(values).to_numpy(float)
    if kind == "datetime":
        return ((labelled["posted_at"] - as_dates(values)).dt.total_seconds()).to_numpy(float)
    keys = values.astype("string").fillna("<missing>").to_numpy()
    fold = np.random.default_rng(0).permutation(len(keys)) % 5
    y = labelled["label"].to_numpy(float)
    out = np.full(len(keys), np.nan)
    for f in range(5):
        means = pd.Series(y[fold != f]).groupby(keys[fold != f]).mean()
        out[fold == f] = pd.Series(keys[fold == f]).map(means).to_numpy(float)
    return out


def crawl_lag(table: pd.DataFrame) -> dict:
    """When the crawled totals were fetched, against when the posts went out: totals taken
    after a post include its own later views (a leak whose size grows with the lag)."""
    has = table["crawled_at"].notna()
    lag = (table.loc[has, "crawled_at"] - table.loc[has, "posted_at"]).dt.total_seconds() / 86400
    return {
        "posts_with_totals": round(float(has.mean()), 4),
        "crawled_from": str(table["crawled_at"].min()), "crawled_to": str(table["crawled_at"].max()),
        "days_after_post_min": round(float(lag.min()), 1),
        "days_after_post_median": round(float(lag.median()), 1),
        "days_after_post_max": round(float(lag.max()), 1),
        "crawled_after_post_share": round(float((lag > 0).mean()), 4),
    }


def _missing(table: pd.DataFrame) -> dict[str, float]:
    """Share of missing values per column; the description vectors as one entry each."""
    plain = [c for c in table.columns if not is_vector_column(c)]
    shares = {c: round(float(table[c].isna().mean()), 4) for c in plain}
    for prefix in ("user_desc_", "loc_desc_"):
        cols = [c for c in table.columns if c.startswith(prefix)]
        if cols:
            block = table[cols].to_numpy()
            empty = np.isnan(block).all(axis=1) | (np.nan_to_num(block) == 0).all(axis=1)
            shares[f"{prefix}* (empty vector)"] = round(float(empty.mean()), 4)
    return shares


def label_summary(labels: pd.Series) -> dict[str, float]:
    q = labels.quantile([0.05, 0.25, 0.5, 0.75, 0.95]).round(3).tolist()
    return {
        "count": int(labels.count()), "mean": round(float(labels.mean()), 3),
        "sd": round(float(labels.std()), 3), "min": float(labels.min()),
        "p05": q[0], "p25": q[1], "median": q[2], "p75": q[3], "p95": q[4],
        "max": float(labels.max()),
    }


def posts_per_user(user_ids: pd.Series) -> dict[str, float]:
    counts = user_ids.value_counts()
    return {
        "users": len(counts), "mean": round(float(counts.mean()), 3),
        "median": float(counts.median()), "p90": round(float(counts.quantile(0.9)), 1),
        "p99": round(float(counts.quantile(0.99)), 1), "max": int(counts.max()),
        "single_post_user_share": round(float((counts == 1).mean()), 4),
        "posts_by_single_post_users": round(float(counts[counts == 1].sum() / counts.sum()), 4),
    }


def _time_span(table: pd.DataFrame) -> dict[str, list[str]]:
    groups = table.groupby("split")["posted_at"] if "split" in table else {"all": table["posted_at"]}.items()
    return {str(k): [str(v.min()), str(v.max())] for k, v in groups}


def label_by_month(labelled: pd.DataFrame) -> dict[str, float]:
    month = labelled["posted_at"].dt.tz_convert(None).dt.to_period("M").astype(str)
    return {k: round(float(v), 3) for k, v in labelled["label"].groupby(month).mean().items()}


def label_by_time_decile(labelled: pd.DataFrame) -> list[float]:
    """Mean label in each tenth of the posts ordered by time: the drift, at a glance."""
    ordered = labelled.sort_values("posted_at", kind="stable")["label"].to_numpy()
    return [round(float(part.mean()), 2) for part in np.array_split(ordered, 10)]


def plot(table: pd.DataFrame, path: str | Path, adversarial: Adversarial | None = None) -> Path:
    """A PNG with the label histogram and, by month, the training and test posts and the
    mean label, on a date axis that stays readable at any span; with ``adversarial``, a
    second row: the features that tell test from training posts, and how test-like the
    training posts of each month are."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    labelled = table[table["label"].notna()] if "label" in table else table.iloc[:0]
    rows = 2 if adversarial is not None else 1
    fig, axes = plt.subplots(rows, 2, figsize=(11, 4 * rows), squeeze=False)
    (ax1, ax2) = axes[0]
    if len(labelled):
        ax1.hist(labelled["label"], bins=60, color="#4c72b0")
    ax1.set(title="Label distribution", xlabel="popularity score", ylabel="posts")
    month = _months(table)
    if month is not None:
        split = table["split"] if "split" in table else pd.Series("train", index=table.index)
        counts = pd.crosstab(month, split).sort_index()
        width = 25 if len(counts) < 60 else 300  # days: months side by side, or years
        bottom = None
        for name, color in (("train", "#bbbbbb"), ("test", "#8fb3d9")):
            if name in counts:
                ax2.bar(counts.index, counts[name], width=width, bottom=bottom, color=color,
                        label=f"{name} posts")
                bottom = counts[name] if bottom is None else bottom + counts[name]
        ax2.set_ylabel("posts")
        ax2.legend(loc="upper left", fontsize=8)
        if len(labelled):
            means = labelled["label"].groupby(month[labelled.index]).mean()
            twin = ax2.twinx()
            twin.plot(means.index, means.to_numpy(), "o-", ms=3, color="#c44e52")
            twin.set_ylabel("mean label", color="#c44e52")
        date_axis(ax2)
    ax2.set_title("Posts and mean label by month")
    if adversarial is not None:
        _adversarial_panels(axes[1], table, month, adversarial)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _months(table: pd.DataFrame) -> pd.Series | None:
    if "posted_at" not in table:
        return None
    return table["posted_at"].dt.tz_convert(None).dt.to_period("M").dt.to_timestamp()


def _adversarial_panels(axes, table: pd.DataFrame, month: pd.Series | None, found: Adversarial) -> None:
    """What tells test from training posts (gain shares, human names), and the training
    posts' mean test-likeness by month (where the training data is most like the test)."""
    from popfusion.names import human

    left, right = axes
    top = found.importance.head(10)[::-1]
    left.barh([human(c) for c in top.index], top.to_numpy(), color="#8172b2")
    left.set(title=f"What tells test from training posts (AUC {found.auc:.2f})", xlabel="share of gain")
    left.tick_params(axis="y", labelsize=8)
    if month is not None:
        likeness = table["post_id"].map(found.test_likeness)
        by_month = likeness.groupby(month).mean().dropna()
        right.plot(by_month.index, by_month.to_numpy(), "o-", ms=3, color="#8172b2")
        date_axis(right)
    right.axhline(0.5, color="#999999", lw=0.8, ls="--")
    right.set(title="How test-like the training posts are, by month", ylabel="mean P(test), out of fold")
