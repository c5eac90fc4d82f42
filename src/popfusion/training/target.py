"""Label normalisation (as is, standardised, rank-Gauss), invertible so that models learn
on a friendly scale and predictions come back on the label's own scale."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

KINDS = ("none", "standard", "rankgauss")


class LabelTransform:
    def __init__(self, kind: str = "none") -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown label transform {kind!r}: {', '.join(KINDS)}")
        self.kind = kind

    def fit(self, y: np.ndarray) -> LabelTransform:
        y = np.asarray(y, float)
        self.mean_, self.sd_ = float(y.mean()), float(y.std() or 1.0)
        self.quantiles_ = np.quantile(y, np.linspace(0, 1, 1001))
        return self

    def transform(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, float)
        if self.kind == "standard":
            return (y - self.mean_) / self.sd_
        if self.kind == "rankgauss":
            u = np.interp(y, self.quantiles_, np.linspace(0, 1, 1001))
            return ndtri(np.clip(u, 1e-4, 1 - 1e-4))
        return y

    def inverse(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, float)
        if self.kind == "standard":
            return z * self.sd_ + self.mean_
        if self.kind == "rankgauss":
            return np.interp(ndtr(z), np.linspace(0, 1, 1001), self.quantiles_)
        return z
