"""Matrix products whose rows do not depend on the rows beside them.

BLAS picks its kernels by the shape of the whole product, the number of threads and a
row's place in its block, so one row multiplied alone and the same row inside a batch can
differ in the last bits (a 512-d float32 row on 32 axes, measured: alone, in a batch of
20,000 and on one thread, three different answers), enough to flip a tree split: a post's
score would depend on what it was scored with. ``row_products`` multiplies float32 rows in
float64 and rounds the result to float32: the kernels' differences, a few units in the
16th digit, vanish in that rounding unless a value falls within them of a float32
rounding edge (about one value in a billion). Float64 rows go to BLAS in blocks of exactly
``CHUNK`` rows (the last one padded with zeros) and never as a single column, so every row
goes through the same kernels. A row alone costs a few microseconds (a service scores one
post at a time).
"""

from __future__ import annotations

import numpy as np

CHUNK = 256  # float64 rows per BLAS call
ROWS = 4096  # float32 rows widened to float64 at a time: bounds the copy


def row_products(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b.T``, each row of the result the same whatever rows ``a`` holds beside it."""
    if np.result_type(a, b) == np.float32:
        wide = np.asarray(b, np.float64).T
        out = np.empty((len(a), b.shape[0]), np.float32)
        for start in range(0, len(a), ROWS):
            out[start : start + ROWS] = np.asarray(a[start : start + ROWS], np.float64) @ wide
        return out
    k = b.shape[0]
    wide = b if k > 1 else np.vstack([b, np.zeros_like(b)])  # one column would go to gemv
    out = np.empty((len(a), wide.shape[0]), np.result_type(a, b))
    for start in range(0, len(a), CHUNK):
        part = a[start : start + CHUNK]
        out[start : start + len(part)] = (padded_rows(part, CHUNK) @ wide.T)[: len(part)]
    return out[:, :k]


def padded_rows(x: np.ndarray, multiple: int) -> np.ndarray:
    """``x`` with zero rows appended up to a multiple of ``multiple`` rows: a network run
    on fixed-size batches gives each row the same kernels whatever else it is run with
    (take the first ``len(x)`` outputs)."""
    extra = -len(x) % multiple
    return np.vstack([x, np.zeros((extra, *x.shape[1:]), x.dtype)]) if extra else x
