"""The SMP Challenge metrics (Spearman rank correlation, MAE) and the usual companions,
with bootstrap intervals."""

from __future__ import annotations

import numpy as np
from scipy.stats import pearsonr, spearmanr

METRICS = ("src", "mae", "pearson", "rmse")


def score(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """SRC, MAE, Pearson and RMSE of ``pred`` against ``y`` (rows where both are finite)."""
    y, pred = np.asarray(y, float), np.asarray(pred, float)
    ok = np.isfinite(y) & np.isfinite(pred)
    y, pred = y[ok], pred[ok]
    if len(y) < 2:
        return dict.fromkeys(METRICS, float("nan"))
    constant = np.ptp(pred) == 0 or np.ptp(y) == 0
    return {
        "src": float("nan") if constant else float(spearmanr(y, pred).statistic),
        "mae": float(np.abs(y - pred).mean()),
        "pearson": float("nan") if constant else float(pearsonr(y, pred).statistic),
        "rmse": float(np.sqrt(((y - pred) ** 2).mean())),
    }


def bootstrap(y: np.ndarray, pred: np.ndarray, n: int = 200, seed: int = 0,
              level: float = 0.95) -> dict[str, dict[str, float]]:
    """Each metric with a percentile bootstrap interval over resampled posts (``n=0``: no
    interval, NaN bounds)."""
    y, pred = np.asarray(y, float), np.asarray(pred, float)
    if n == 0:
        return {m: {"value": v, "low": float("nan"), "high": float("nan")} for m, v in score(y, pred).items()}
    rng = np.random.default_rng(seed)
    draws = [score(y[idx], pred[idx]) for idx in rng.integers(0, len(y), (n, len(y)))]
    point = score(y, pred)
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    return {m: {"value": point[m], "low": float(np.nanpercentile([d[m] for d in draws], lo)),
                "high": float(np.nanpercentile([d[m] for d in draws], hi))} for m in METRICS}
