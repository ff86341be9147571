"""Trajectory distances shared by the navigation metrics, the bag evaluator and VLA-R1's rewards."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def frechet_from_costs(cost: NDArray[np.float64]) -> float:
    """Discrete Fréchet coupling value of an (N, M) matrix of pairwise costs.

    The cheapest monotone coupling's largest pair cost; rows are filled one at a time so the work
    is O(N·M) with one Python loop per cell of a row at most. ALAF (VLA-R1) passes its own
    per-pair cost; :func:`discrete_frechet` passes Euclidean distances.
    """
    c = np.asarray(cost, dtype=np.float64)
    if c.ndim != 2 or c.size == 0:
        raise ValueError(f"cost must be a non-empty (N, M) matrix, got shape {c.shape}")
    row = np.maximum.accumulate(c[0])
    for i in range(1, c.shape[0]):
        new = np.empty_like(row)
        new[0] = max(row[0], c[i, 0])
        best = np.minimum(row[1:], row[:-1])  # from (i-1, j) or (i-1, j-1)
        for j in range(1, c.shape[1]):
            new[j] = max(min(best[j - 1], new[j - 1]), c[i, j])
        row = new
    return float(row[-1])


def discrete_frechet(a: ArrayLike, b: ArrayLike) -> float:
    """Discrete Fréchet distance between two polylines of the same dimension (Euclidean cost)."""
    p, q = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if p.ndim != 2 or q.ndim != 2 or p.shape[1] != q.shape[1] or not len(p) or not len(q):
        raise ValueError(f"paths must be non-empty (N, D) arrays of one dimension, got {p.shape} and {q.shape}")
    return frechet_from_costs(np.linalg.norm(p[:, None, :] - q[None, :, :], axis=2))
