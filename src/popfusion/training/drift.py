"""Drift correction learned on forward-in-time predictions (the chronological hold-out):
later posts score lower or higher than models trained on earlier ones expect. The SMP
teams shifted labels and subtracted a ramp in time order (about +0.02 SRC); on a platform
whose audience keeps growing the ramp has to be carried on into the test period.

``auto`` chooses by rolling-origin backtests over the hold-out's time windows: each
kind is fitted on the earlier windows and scored on the next one, as it will be fitted on
the whole hold-out and applied to the later test period. A shift wins over none, and a
trend over both, only by a mean MAE lower by more than ``MAE_MARGIN`` (relative) without
ranking worse than no correction (SRC lower by more than ``SRC_TOLERANCE``).
"""

from __future__ import annotations

import numpy as np

from popfusion import metrics

KINDS = ("none", "shift", "trend", "auto")
CANDIDATES = ("none", "shift", "trend")
WINDOWS = 5  # the hold-out's time windows; backtests score windows 2..4 from those before
SRC_TOLERANCE = 0.002
MAE_MARGIN = 0.01


class DriftCorrection:
    """``shift``: add the hold-out's mean residual; ``trend``: also a linear ramp in time,
    fitted on the hold-out residuals and carried beyond the hold-out, damped: past its
    end the ramp adds at most what it added over one more hold-out span (a cap, so a
    far-off post is not pushed without bound); ``auto``: whichever of none, shift and trend
    wins the backtests (``chosen_``, scores in ``backtest_``)."""

    def __init__(self, kind: str = "none") -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown drift correction {kind!r}: {', '.join(KINDS)}")
        self.kind = kind
        self.chosen_ = kind
        self.backtest_: dict[str, dict[str, float]] = {}
        self.shift_, self.slope_, self.t0_, self.first_, self.last_ = 0.0, 0.0, 0.0, 0.0, 0.0

    def fit(self, days: np.ndarray, y: np.ndarray, pred: np.ndarray) -> DriftCorrection:
        days, y, pred = (np.asarray(a, float) for a in (days, y, pred))
        if self.kind == "auto":
            self.backtest_ = backtest(days, y, pred)
            self.chosen_ = choose(self.backtest_)
        return self._fit(self.chosen_, days, y - pred)

    def _fit(self, kind: str, days: np.ndarray, residual: np.ndarray) -> DriftCorrection:
        self.shift_, self.slope_ = 0.0, 0.0
        if len(days):
            self.t0_, self.first_, self.last_ = float(days.mean()), float(days.min()), float(days.max())
        if kind in ("shift", "trend") and len(residual):
            self.shift_ = float(residual.mean())
        if kind == "trend" and self.last_ > self.first_:
            self.slope_ = float(np.polyfit(days - self.t0_, residual, 1)[0])
        return self

    def apply(self, days: np.ndarray, pred: np.ndarray) -> np.ndarray:
        days = np.asarray(days, float)
        offset = np.clip(days, self.first_, self.last_) - self.t0_
        span = self.last_ - self.first_
        beyond = np.clip(days - self.last_, 0, None)  # carried forward, damped towards one span
        offset = offset + (span * (1 - np.exp(-beyond / span)) if span > 0 else 0.0)
        return np.asarray(pred, float) + self.shift_ + self.slope_ * offset

    def describe(self) -> dict:
        out = {"kind": self.kind, "chosen": self.chosen_, "shift": self.shift_, "slope_per_day": self.slope_}
        if self.backtest_:
            out["backtest"] = self.backtest_
        return out

    def explain(self) -> str:
        """The correction in words, for the report and the command line."""
        what = {"none": "no correction",
                "shift": f"every score shifted by {self.shift_:+.3f}",
                "trend": f"scores shifted by {self.shift_:+.3f} and a trend of {self.slope_ * 30:+.4f} "
                         "per 30 days carried into the test period (damped)"}[self.chosen_]
        if self.kind != "auto":
            return what
        scores = "; ".join(f"{k}: SRC {v['src']:.4f}, MAE {v['mae']:.4f}" for k, v in self.backtest_.items())
        return f"{what}, chosen by backtests on the hold-out ({scores})"


def backtest(days: np.ndarray, y: np.ndarray, pred: np.ndarray, windows: int = WINDOWS) -> dict:
    """Mean SRC and MAE of each candidate kind over rolling origins: fitted on the
    hold-out's windows before each origin, scored on the window at it."""
    order = np.argsort(days, kind="stable")
    bounds = np.linspace(0, len(days), windows + 1).astype(int)
    scores: dict[str, list[dict[str, float]]] = {k: [] for k in CANDIDATES}
    for w in range(2, windows):
        fit_rows, test_rows = order[: bounds[w]], order[bounds[w] : bounds[w + 1]]
        if len(test_rows) < 2 or len(fit_rows) < 2:
            continue
        for kind in CANDIDATES:
            corr = DriftCorrection(kind)._fit(kind, days[fit_rows], y[fit_rows] - pred[fit_rows])
            s = metrics.score(y[test_rows], corr.apply(days[test_rows], pred[test_rows]))
            scores[kind].append(s)
    return {k: {m: float(np.nanmean([s[m] for s in v])) for m in ("src", "mae")}
            for k, v in scores.items() if v}


def choose(scores: dict[str, dict[str, float]]) -> str:
    """The simplest kind whose backtest MAE no more complex kind beats by more than
    ``MAE_MARGIN`` (relative) without ranking worse than no correction: on a series with
    no drift, a shift or a ramp fitted to noise wins by chance, by a hair."""
    if not scores:
        return "none"
    floor = scores["none"]["src"] - SRC_TOLERANCE
    chosen = "none"
    for kind in CANDIDATES[1:]:
        s = scores.get(kind)
        if s and s["src"] >= floor and s["mae"] < scores[chosen]["mae"] * (1 - MAE_MARGIN):
            chosen = kind
    return chosen
