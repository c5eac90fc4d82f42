"""Drift correction learned on the chronological hold-out: later posts score lower, and
the SMP teams shifted labels and subtracted a ramp in time order (about +0.02 SRC)."""

from __future__ import annotations

import numpy as np

KINDS = ("none", "shift", "trend")


class DriftCorrection:
    """``shift``: add the hold-out's mean residual; ``trend``: also a linear ramp in time,
    fitted on the hold-out residuals and held flat beyond the hold-out's time span."""

    def __init__(self, kind: str = "none") -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown drift correction {kind!r}: {', '.join(KINDS)}")
        self.kind = kind
        self.shift_, self.slope_, self.t0_, self.first_, self.last_ = 0.0, 0.0, 0.0, 0.0, 0.0

    def fit(self, days: np.ndarray, y: np.ndarray, pred: np.ndarray) -> DriftCorrection:
        residual = np.asarray(y, float) - np.asarray(pred, float)
        days = np.asarray(days, float)
        if len(days):
            self.t0_, self.first_, self.last_ = float(days.mean()), float(days.min()), float(days.max())
        if self.kind in ("shift", "trend"):
            self.shift_ = float(residual.mean())
        if self.kind == "trend" and self.last_ > self.first_:
            self.slope_ = float(np.polyfit(days - self.t0_, residual, 1)[0])
        return self

    def apply(self, days: np.ndarray, pred: np.ndarray) -> np.ndarray:
        offset = np.clip(np.asarray(days, float), self.first_, self.last_) - self.t0_
        return np.asarray(pred, float) + self.shift_ + self.slope_ * offset

    def describe(self) -> dict[str, float | str]:
        return {"kind": self.kind, "shift": self.shift_, "slope_per_day": self.slope_}
