"""Vision-language navigation metrics (VLN-CE definitions), ROS-free and pure numpy.

Paths are arrays of points, (N, 2) or (N, 3), in metres.  Distances to the goal default to
Euclidean; pass ``geodesic=navmap.geodesic_distance`` (any ``(a, b) -> float``) to measure them
on a scene's navigable map, as VLN-CE does.

* NE: distance from the final position to the goal.  SR: NE <= threshold after the agent stopped.
* OSR: some point of the path came within the threshold.  SPL = S * l / max(p, l).
* nDTW = exp(-DTW(R, Q) / (|R| * d_th)), DTW with Euclidean point cost.  SDTW = S * nDTW.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

Distance = Callable[[Sequence[float], Sequence[float]], float]
SUCCESS_DISTANCE = 3.0  # VLN-CE's success threshold [m]


def _points(path: ArrayLike, what: str) -> NDArray[np.float64]:
    arr = np.asarray(path, dtype=np.float64)
    if arr.ndim == 1 and arr.size in (2, 3):
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] not in (2, 3) or arr.shape[0] == 0:
        raise ValueError(f"{what} must be a non-empty (N, 2) or (N, 3) array of points, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contains non-finite coordinates")
    return arr


def _euclidean(a: Sequence[float], b: Sequence[float]) -> float:
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


def path_length(path: ArrayLike) -> float:
    """Sum of segment lengths of a path (0 for a single point)."""
    p = _points(path, "path")
    return float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum())


def navigation_error(path: ArrayLike, goal: ArrayLike, geodesic: Distance | None = None) -> float:
    """NE: distance from the path's last point to the goal (geodesic when given)."""
    p = _points(path, "path")
    g = _points(goal, "goal")[0]
    dist = geodesic or _euclidean
    return float(dist(p[-1][: g.size], g))


def success(
    path: ArrayLike,
    goal: ArrayLike,
    stopped: bool = True,
    threshold: float = SUCCESS_DISTANCE,
    geodesic: Distance | None = None,
) -> bool:
    """SR for one episode: the agent stopped and ended within ``threshold`` of the goal."""
    return bool(stopped) and navigation_error(path, goal, geodesic) <= threshold


def oracle_success(
    path: ArrayLike, goal: ArrayLike, threshold: float = SUCCESS_DISTANCE, geodesic: Distance | None = None
) -> bool:
    """OSR for one episode: some point of the path came within ``threshold`` of the goal."""
    p = _points(path, "path")
    g = _points(goal, "goal")[0]
    dist = geodesic or _euclidean
    return any(dist(q[: g.size], g) <= threshold for q in p)


def spl(success: bool | float, shortest_length: float, path_length: float) -> float:
    """SPL for one episode: ``S * l / max(p, l)`` (0 for a failed episode)."""
    if shortest_length < 0 or path_length < 0 or not math.isfinite(shortest_length + path_length):
        raise ValueError(f"lengths must be finite and >= 0, got l={shortest_length}, p={path_length}")
    s = float(success)
    if s == 0.0:
        return 0.0
    denom = max(path_length, shortest_length)
    return s if denom == 0 else s * shortest_length / denom


def dtw(path: ArrayLike, reference: ArrayLike) -> float:
    """Dynamic time warping distance with Euclidean point cost (steps: match, insert, delete)."""
    q = _points(path, "path")
    r = _points(reference, "reference")
    if q.shape[1] != r.shape[1]:
        raise ValueError(f"path and reference must have the same dimension, got {q.shape[1]} and {r.shape[1]}")
    cost = np.linalg.norm(r[:, None, :] - q[None, :, :], axis=2)  # (|R|, |Q|)
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    # Row by row; the within-row recurrence (insertions) is a running minimum, done in Python.
    for i in range(1, n + 1):
        diag_up = np.minimum(acc[i - 1, :-1], acc[i - 1, 1:])  # match (i-1, j-1) or (i-1, j)
        row = acc[i]
        ci = cost[i - 1]
        for j in range(1, m + 1):
            row[j] = ci[j - 1] + min(diag_up[j - 1], row[j - 1])
    return float(acc[n, m])


def ndtw(path: ArrayLike, reference: ArrayLike, d_th: float = SUCCESS_DISTANCE) -> float:
    """nDTW = exp(-DTW(R, Q) / (|R| * d_th)) in (0, 1]; 1 when the path matches the reference."""
    if d_th <= 0:
        raise ValueError(f"d_th must be > 0, got {d_th}")
    r = _points(reference, "reference")
    return math.exp(-dtw(path, r) / (len(r) * d_th))


def sdtw(
    path: ArrayLike, reference: ArrayLike, succeeded: bool, d_th: float = SUCCESS_DISTANCE
) -> float:
    """SDTW = S * nDTW."""
    return ndtw(path, reference, d_th) if succeeded else 0.0


def resample(path: ArrayLike, spacing: float = 0.25) -> NDArray[np.float64]:
    """Points every ``spacing`` m along a path (endpoints kept), so DTW does not depend on sampling."""
    p = _points(path, "path")
    if spacing <= 0:
        raise ValueError(f"spacing must be > 0, got {spacing}")
    seg = np.linalg.norm(np.diff(p, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] == 0:
        return p[:1].copy()
    ts = np.append(np.arange(0.0, s[-1], spacing), s[-1])
    return np.stack([np.interp(ts, s, p[:, k]) for k in range(p.shape[1])], axis=1)


@dataclass(frozen=True)
class EpisodeMetrics:
    """All metrics of one episode (distances in metres, time in seconds)."""

    episode_id: str
    ne: float
    success: float
    oracle_success: float
    spl: float
    ndtw: float
    sdtw: float
    path_length: float
    shortest_length: float
    collisions: int = 0
    episode_time: float = 0.0
    steps: int = 0
    stopped: bool = True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def evaluate_episode(
    episode_id: str,
    path: ArrayLike,
    reference: ArrayLike,
    goal: ArrayLike,
    shortest_length: float,
    stopped: bool,
    *,
    threshold: float = SUCCESS_DISTANCE,
    d_th: float = SUCCESS_DISTANCE,
    geodesic: Distance | None = None,
    collisions: int = 0,
    episode_time: float = 0.0,
    steps: int = 0,
    resample_spacing: float | None = 0.25,
) -> EpisodeMetrics:
    """Every metric of one episode.  Paths are resampled (default every 0.25 m) before DTW."""
    p = _points(path, "path")
    r = _points(reference, "reference")
    ne = navigation_error(p, goal, geodesic)
    ok = bool(stopped) and ne <= threshold
    q_dtw, r_dtw = (resample(p, resample_spacing), resample(r, resample_spacing)) if resample_spacing else (p, r)
    nd = ndtw(q_dtw, r_dtw, d_th)
    length = path_length(p)
    return EpisodeMetrics(
        episode_id=episode_id,
        ne=ne,
        success=float(ok),
        oracle_success=float(oracle_success(p, goal, threshold, geodesic)),
        spl=spl(ok, shortest_length, length),
        ndtw=nd,
        sdtw=nd if ok else 0.0,
        path_length=length,
        shortest_length=float(shortest_length),
        collisions=int(collisions),
        episode_time=float(episode_time),
        steps=int(steps),
        stopped=bool(stopped),
    )


def aggregate(episodes: Sequence[EpisodeMetrics]) -> dict[str, float]:
    """Means over episodes (NE, SR, OSR, SPL, nDTW, SDTW, lengths, time, collisions) and the count."""
    if not episodes:
        return {"episodes": 0.0}
    keys = ("ne", "success", "oracle_success", "spl", "ndtw", "sdtw", "path_length", "shortest_length",
            "collisions", "episode_time", "steps")
    out = {k: float(np.mean([float(getattr(e, k)) for e in episodes])) for k in keys}
    out["total_collisions"] = float(sum(e.collisions for e in episodes))
    out["episodes"] = float(len(episodes))
    return out
