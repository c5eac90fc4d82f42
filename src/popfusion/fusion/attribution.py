"""Carrying additive attributions through a step: contributions that sum to one value's
distance from its base, scaled to sum to another's (the rescale rule of DeepLIFT)."""

from __future__ import annotations

import numpy as np
import pandas as pd

FLAT = 1e-12  # a distance from the base this small has nothing to scale


def rescaled(contributions: pd.DataFrame, distance: np.ndarray,
             target: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """``contributions`` (rows summing to ``distance``) scaled to sum to ``target``, and
    what is left over: ``target`` where the distance is flat (it has nothing to scale, and
    goes into the base instead), else 0. The sums stay exact either way."""
    flat = np.abs(distance) < FLAT
    factor = np.where(flat, 0.0, target / np.where(flat, 1.0, distance))
    return contributions.mul(factor, axis=0), np.where(flat, target, 0.0)
