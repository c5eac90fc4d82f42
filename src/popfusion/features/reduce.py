"""Principal axes, for shrinking long vectors (descriptions, embeddings) without labels."""

from __future__ import annotations

import numpy as np

from popfusion.linalg import row_products


def fit_pca(block: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and top-k principal axes of the non-empty vectors (one SVD, no labels)."""
    values = np.nan_to_num(block)
    rows = values[np.abs(values).sum(axis=1) > 0]
    if len(rows) > 50_000:
        rows = rows[np.random.default_rng(0).choice(len(rows), 50_000, replace=False)]
    mean = rows.mean(axis=0) if len(rows) else np.zeros(block.shape[1], np.float32)
    components = np.zeros((k, block.shape[1]), np.float32)
    if len(rows) < 2:
        return mean, components
    from sklearn.utils.extmath import randomized_svd

    n = min(k, *rows.shape)
    _, _, vt = randomized_svd(rows - mean, n, random_state=0)
    components[:n] = vt
    return mean, components


def project(values: np.ndarray, pca: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Vectors on the axes of ``fit_pca``; NaN rows (missing images) stay NaN."""
    mean, components = pca
    out = row_products(np.nan_to_num(values) - mean, components)
    out[~np.isfinite(values).all(axis=1)] = np.nan
    return out.astype(np.float32)
