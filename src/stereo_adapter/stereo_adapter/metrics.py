"""Depth and disparity metrics against ground truth (AbsRel, RMSE, δ thresholds, EPE, D1)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

METRIC_NAMES = ("abs_rel", "sq_rel", "rmse", "rmse_log", "delta1", "delta2", "delta3", "epe", "d1", "density")


@dataclass(frozen=True)
class MetricRange:
    """Depth range in which ground truth counts (StereoAdapter clamps 0.5–80 m)."""

    min_depth_m: float = 0.5
    max_depth_m: float = 80.0


def stereo_metrics(
    disparity: NDArray[np.float32],
    valid: NDArray[np.bool_],
    depth_gt: NDArray[np.float32],
    focal_baseline: float,
    rng: MetricRange | None = None,
) -> dict[str, float]:
    """All metrics for one frame, over pixels with valid ground truth and a valid prediction.

    ``density`` is the share of ground-truth pixels the backend predicted at all, so a backend
    that leaves holes is not rewarded silently. Predicted depth is clamped to the range as in
    the StereoAdapter evaluation. D1: |error| > 3 px and > 5 % of the true disparity (KITTI).
    """
    rng = rng or MetricRange()
    if disparity.shape != depth_gt.shape:
        raise ValueError(f"prediction {disparity.shape} and ground truth {depth_gt.shape} differ in shape")
    gt_ok = np.isfinite(depth_gt) & (depth_gt >= rng.min_depth_m) & (depth_gt <= rng.max_depth_m)
    mask = gt_ok & valid & (disparity > 0)
    n_gt = int(gt_ok.sum())
    if n_gt == 0:
        raise ValueError("no ground-truth pixels inside the metric depth range")
    out = {"density": float(mask.sum()) / n_gt}
    if not mask.any():
        return {**{k: float("nan") for k in METRIC_NAMES}, "density": 0.0}
    gt = depth_gt[mask].astype(np.float64)
    pred = np.clip(focal_baseline / disparity[mask].astype(np.float64), rng.min_depth_m, rng.max_depth_m)
    ratio = np.maximum(pred / gt, gt / pred)
    out["abs_rel"] = float(np.mean(np.abs(pred - gt) / gt))
    out["sq_rel"] = float(np.mean((pred - gt) ** 2 / gt))
    out["rmse"] = float(np.sqrt(np.mean((pred - gt) ** 2)))
    out["rmse_log"] = float(np.sqrt(np.mean((np.log(pred) - np.log(gt)) ** 2)))
    for i, name in enumerate(("delta1", "delta2", "delta3"), start=1):
        out[name] = float(np.mean(ratio < 1.25**i))
    disp_gt = focal_baseline / gt
    err = np.abs(disparity[mask].astype(np.float64) - disp_gt)
    out["epe"] = float(np.mean(err))
    out["d1"] = float(np.mean((err > 3.0) & (err > 0.05 * disp_gt)))
    return out


def mean_metrics(rows: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Average per-frame metrics (frames where a metric is NaN are left out of that metric)."""
    rows = list(rows)
    if not rows:
        raise ValueError("no frames to average")
    out = {}
    for k in METRIC_NAMES:
        vals = np.array([r[k] for r in rows if k in r], dtype=np.float64)
        vals = vals[np.isfinite(vals)]
        out[k] = float(vals.mean()) if vals.size else float("nan")
    return out


def format_table(rows: Mapping[str, Mapping[str, float]], columns: tuple[str, ...] | None = None) -> str:
    """A markdown table with one row per method/dataset and one column per metric."""
    columns = columns or ("abs_rel", "rmse", "delta1", "epe", "d1", "density")
    head = "| method | " + " | ".join(columns) + " |"
    sep = "|---|" + "---|" * len(columns)
    lines = [head, sep]
    for name, m in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{m.get(c, float('nan')):.4f}" for c in columns) + " |")
    return "\n".join(lines)
