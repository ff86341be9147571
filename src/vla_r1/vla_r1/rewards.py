"""VLA-R1's verifiable rewards as evaluation functions, plus the usual trajectory metrics.

All points and boxes are normalised image coordinates ([0, 1]); multiply distances by 1000 to
compare with VLA-R1's tables, which evaluate in [0, 1000).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from r1_core.trajectory import frechet_from_costs
from vla_r1.parse import Box, parse_response
from vla_r1.parse import format_ok as _format_ok

LAMBDA_THETA = 0.25
LAMBDA_R = 0.10
ALAF_NORMALISER = math.sqrt(2.0) + LAMBDA_THETA * math.pi + LAMBDA_R * math.log(10.0)
TASK_WEIGHT = 0.9
FORMAT_WEIGHT = 0.1

Points = NDArray[np.float64]


def _corners(b: Box | tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    return b.corners() if isinstance(b, Box) else b


def iou(a: Box | tuple[float, float, float, float], b: Box | tuple[float, float, float, float]) -> float:
    """Intersection over union of two boxes (Box or (x1, y1, x2, y2))."""
    ax1, ay1, ax2, ay2 = _corners(a)
    bx1, by1, bx2, by2 = _corners(b)
    inter = max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(0.0, min(ay2, by2) - max(ay1, by1))
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return inter / union if union > 0 else 0.0


def giou(a: Box | tuple[float, float, float, float], b: Box | tuple[float, float, float, float]) -> float:
    """Generalised IoU in [-1, 1]: IoU minus the enclosing box's share not covered by the union."""
    ax1, ay1, ax2, ay2 = _corners(a)
    bx1, by1, bx2, by2 = _corners(b)
    inter = max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(0.0, min(ay2, by2) - max(ay1, by1))
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    hull = (max(ax2, bx2) - min(ax1, bx1)) * (max(ay2, by2) - min(ay1, by1))
    if union <= 0 or hull <= 0:
        return -1.0
    return inter / union - (hull - union) / hull


def affordance_reward(pred: Box | None, target: Box) -> float:
    """R_aff = (GIoU + 1) / 2; 0 for a missing prediction."""
    return 0.0 if pred is None else (giou(pred, target) + 1.0) / 2.0


def _pairwise(p: Points, q: Points) -> NDArray[np.float64]:
    return np.asarray(np.linalg.norm(p[:, None, :] - q[None, :, :], axis=-1), dtype=float)


def _check(p: Points, q: Points) -> tuple[Points, Points]:
    p, q = np.asarray(p, dtype=float).reshape(-1, 2), np.asarray(q, dtype=float).reshape(-1, 2)
    if len(p) == 0 or len(q) == 0:
        raise ValueError("trajectory metrics need non-empty trajectories")
    return p, q


def discrete_frechet(p: Points, q: Points) -> float:
    """Discrete Fréchet distance between two polylines (Euclidean point cost)."""
    p, q = _check(p, q)
    return frechet_from_costs(_pairwise(p, q))


def hausdorff(p: Points, q: Points) -> float:
    """Symmetric Hausdorff distance between two point sets."""
    p, q = _check(p, q)
    d = _pairwise(p, q)
    return float(max(d.min(axis=1).max(), d.min(axis=0).max()))


def resample(p: Points, n: int) -> Points:
    """``n`` points equally spaced by arc length along the polyline ``p``."""
    p = np.asarray(p, dtype=float).reshape(-1, 2)
    if len(p) == 1:
        return np.repeat(p, n, axis=0)
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])
    if s[-1] == 0:
        return np.repeat(p[:1], n, axis=0)
    t = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(t, s, p[:, 0]), np.interp(t, s, p[:, 1])], axis=1)


def rmse(p: Points, q: Points) -> float:
    """Root mean squared point distance after resampling both to the longer one's point count."""
    p, q = _check(p, q)
    n = max(len(p), len(q))
    d = np.linalg.norm(resample(p, n) - resample(q, n), axis=1)
    return float(np.sqrt(np.mean(d**2)))


def _tangents(p: Points) -> tuple[Points, NDArray[np.float64]]:
    """Per point: the unit tangent of the segment leaving it (the last point: the one reaching it)."""
    seg = np.diff(p, axis=0)
    seg = np.vstack([seg, seg[-1:]]) if len(seg) else np.zeros((1, 2))
    length = np.linalg.norm(seg, axis=1)
    unit = np.divide(seg, length[:, None], out=np.zeros_like(seg), where=length[:, None] > 0)
    return unit, length


def alaf_distance(
    pred: Points, target: Points, *, lambda_theta: float = LAMBDA_THETA, lambda_r: float = LAMBDA_R
) -> float:
    """Angle-length augmented Fréchet distance (VLA-R1's ALAF).

    Pair cost ‖p̂ᵢ − p*ⱼ‖ + λθ·∠(t̂ᵢ, t*ⱼ) + λr·|log(ℓ̂ᵢ / ℓ*ⱼ)|, the log ratio clipped to ln 10 (the
    normaliser's bound); a zero-length tangent contributes no angle.
    """
    p, q = _check(pred, target)
    tp, lp = _tangents(p)
    tq, lq = _tangents(q)
    angle = np.arccos(np.clip(tp @ tq.T, -1.0, 1.0))
    angle[(lp == 0)[:, None] | (lq == 0)[None, :]] = 0.0
    eps = 1e-9
    ratio = np.abs(np.log((lp[:, None] + eps) / (lq[None, :] + eps)))
    cost = _pairwise(p, q) + lambda_theta * angle + lambda_r * np.minimum(ratio, math.log(10.0))
    return frechet_from_costs(cost)


def trajectory_reward(pred: Points | None, target: Points) -> float:
    """R_traj = 1 − ALAF / (√2 + λθ·π + λr·ln 10), clipped to [0, 1]; 0 for a missing prediction."""
    if pred is None:
        return 0.0
    return float(np.clip(1.0 - alaf_distance(pred, target) / ALAF_NORMALISER, 0.0, 1.0))


def format_reward(text: str, task: str) -> float:
    """1 when the reply is ``<think>…</think><output>…</output>`` and its output parses, else 0."""
    return 1.0 if _format_ok(text) and parse_response(text, task).ok else 0.0


def total_reward(text: str, task: str, target: Box | Points) -> float:
    """VLA-R1's reward: 0.9·task reward + 0.1·format reward for one reply."""
    parsed = parse_response(text, task)
    if task == "affordance":
        if not isinstance(target, Box):
            raise ValueError("the affordance target must be a Box")
        task_r = affordance_reward(parsed.box if parsed.ok else None, target)
    else:
        if isinstance(target, Box):
            raise ValueError("the trajectory target must be (N, 2) points")
        task_r = trajectory_reward(parsed.points if parsed.ok else None, target)
    return TASK_WEIGHT * task_r + FORMAT_WEIGHT * format_reward(text, task)
