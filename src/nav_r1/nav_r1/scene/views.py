"""Choose the k most informative key views for a question: cloud coverage plus optional relevance.

Coverage: each view sees the fused points that project into its image in front of the camera and
agree with the view's own depth (not hidden behind a nearer surface); views are picked greedily by
how many not-yet-covered points they add (the standard (1 - 1/e) greedy for max coverage). When a
:class:`ViewScorer` is given (a text-image model, e.g. CLIP, scoring question against view), each
step maximises ``(1 - w) * new_coverage + w * relevance``. :mod:`nav_r1.scene.clip_scorer` has a
CLIP one; without a scorer, coverage alone decides, and the selection says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from nav_r1.scene.memory import KeyView


class ViewScorer(Protocol):
    """Relevance of each view to a question, in [0, 1] (e.g. CLIP similarity rescaled)."""

    def score(self, question: str, views: Sequence[KeyView]) -> Sequence[float]:
        """One relevance per view, same order."""
        ...


@dataclass(frozen=True)
class ViewSelection:
    """The chosen views (in pick order), the fraction of the cloud they cover and why."""

    view_ids: tuple[int, ...]
    coverage: float
    gains: tuple[float, ...]
    relevance: tuple[float, ...] | None
    note: str = ""


def visible_points(points: NDArray[np.float64], view: KeyView, depth_tolerance_m: float = 0.1) -> NDArray[np.intp]:
    """Indices of ``points`` (N, 3, odom) that ``view`` sees: inside its image and not occluded."""
    if len(points) == 0:
        return np.zeros(0, dtype=np.intp)
    rot, origin = view.pose[:3, :3], view.pose[:3, 3]
    k = view.intrinsics
    z = (points - origin) @ rot[:, 2]
    idx = np.flatnonzero(z > 1e-3)
    cam = (points[idx] - origin) @ rot[:, :2]
    z = z[idx]
    u = np.rint(k.fx * cam[:, 0] / z + k.cx).astype(np.int64)
    v = np.rint(k.fy * cam[:, 1] / z + k.cy).astype(np.int64)
    inside = (u >= 0) & (u < k.width) & (v >= 0) & (v < k.height)
    idx, z, u, v = idx[inside], z[inside], u[inside], v[inside]
    d = view.depth[v, u]
    seen = (d > 0) & (z <= d + depth_tolerance_m)
    return idx[seen]


def select_views(
    points: NDArray[np.float64],
    views: Sequence[KeyView],
    k: int,
    question: str = "",
    scorer: ViewScorer | None = None,
    relevance_weight: float = 0.5,
    depth_tolerance_m: float = 0.1,
) -> ViewSelection:
    """Greedy max coverage (plus relevance when a scorer is given) of ``k`` views; never raises on scorer errors."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if not 0.0 <= relevance_weight <= 1.0:
        raise ValueError(f"relevance_weight must be in [0, 1], got {relevance_weight}")
    if not views:
        return ViewSelection((), 0.0, (), None, "no key views yet")
    seen = [visible_points(points, v, depth_tolerance_m) for v in views]
    relevance: tuple[float, ...] | None = None
    note = "coverage only (no view scorer)"
    if scorer is not None:
        try:
            raw = [float(s) for s in scorer.score(question, views)]
            if len(raw) != len(views) or not all(math.isfinite(s) for s in raw):
                raise ValueError(f"scorer returned {len(raw)} scores (finite: {all(map(math.isfinite, raw))}) "
                                 f"for {len(views)} views")
            relevance = tuple(min(1.0, max(0.0, s)) for s in raw)
            note = f"coverage and relevance (weight {relevance_weight})"
        except Exception as exc:  # a scorer is third-party code: fall back to coverage, say why
            note = f"coverage only (view scorer failed: {type(exc).__name__}: {str(exc)[:80]})"
    total = max(1, len(points))
    covered = np.zeros(len(points), dtype=bool)
    chosen: list[int] = []
    gains: list[float] = []
    w = relevance_weight if relevance is not None else 0.0
    for _ in range(min(k, len(views))):
        best, best_score, best_gain = -1, -math.inf, 0.0
        for i, idx in enumerate(seen):
            if i in chosen:
                continue
            gain = float(np.count_nonzero(~covered[idx])) / total
            score = (1 - w) * gain + w * (relevance[i] if relevance is not None else 0.0)
            if score > best_score + 1e-12:  # ties keep the newer view last: prefer the earlier index
                best, best_score, best_gain = i, score, gain
        chosen.append(best)
        gains.append(best_gain)
        covered[seen[best]] = True
    return ViewSelection(tuple(views[i].view_id for i in chosen), float(covered.sum()) / total, tuple(gains),
                         tuple(relevance[i] for i in chosen) if relevance is not None else None, note)


__all__ = ["ViewScorer", "ViewSelection", "select_views", "visible_points"]
