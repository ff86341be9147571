"""Lift a 2D box in a key view to a 3D box in the odom frame through depth and the fused cloud.

The points that fall in the box's viewing frustum (the view's own depth back-projected, plus fused
points the view sees inside the box) are cleaned with Open3D: the floor is cut, DBSCAN splits the
object from what lies behind or beside it (the cluster that fills the middle of the 2D box wins),
statistical outlier removal drops stragglers, and ``AxisAlignedBoundingBox`` gives the box. A box
that is malformed, outside the image or sees no depth is an error with a reason, never a guess.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import open3d as o3d
from numpy.typing import NDArray

from nav_r1.scene.boxes import Box3D
from nav_r1.scene.memory import KeyView
from r1_core.params import param, validate_params


@dataclass(frozen=True)
class LiftConfig:
    """How a 2D box becomes a 3D box."""

    floor_z_m: float = param(0.0, "Floor height in the odom frame [m]", min=-10.0, max=10.0)
    # Points this close to the floor belong to it, not to the object standing on it.
    floor_margin_m: float = param(0.04, "Points below floor_z + this are floor [m]", min=0.0, max=1.0)
    # An object whose lowest point is this close to the floor stands on it: its box reaches the floor.
    floor_snap_m: float = param(0.12, "Extend a box down to the floor when it ends this close [m]", min=0.0, max=1.0)
    cluster_eps_m: float = param(0.08, "DBSCAN neighbourhood radius [m]", min=0.005, max=1.0)
    cluster_min_points: int = param(5, "DBSCAN core-point neighbours", min=1, max=1000)
    outlier_neighbors: int = param(16, "Neighbours for statistical outlier removal", min=2, max=200)
    outlier_std_ratio: float = param(2.0, "Standard deviations kept by outlier removal", min=0.1, max=10.0)
    min_points: int = param(10, "Fewest points that make a box", min=3)
    pixel_stride: int = param(2, "Use every n-th depth pixel inside the box", min=1, max=16)
    depth_tolerance_m: float = param(0.1, "Fused points nearer than the view's depth minus this are stale [m]",
                                     min=0.0, max=2.0)
    max_pixels: int = param(4096, "Largest box edge accepted [pixels]", min=16)

    def __post_init__(self) -> None:
        validate_params(self)


@dataclass(frozen=True)
class LiftResult:
    """A lifted box, or the reason there is none."""

    box: Box3D | None
    error: str | None = None
    n_points: int = 0


def check_box_2d(box: Any, width: int, height: int, max_pixels: int = 4096) -> tuple[float, float, float, float] | str:
    """``[x0, y0, x1, y1]`` pixels clipped to the image, or the reason the box is malformed."""
    if isinstance(box, (str, bytes, dict)) or not isinstance(box, Sequence) or len(box) != 4:
        return f"malformed_box: a 2D box must be [x0, y0, x1, y1], got {str(box)[:60]!r}"
    vals: list[float] = []
    for i, v in enumerate(box):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)) \
                or not math.isfinite(float(v)):
            return f"malformed_box: box[{i}] must be a finite number, got {str(v)[:30]!r}"
        vals.append(float(v))
    x0, y0, x1, y1 = vals
    if x1 <= x0 or y1 <= y0:
        return f"malformed_box: need x0 < x1 and y0 < y1, got {vals}"
    if max(x1 - x0, y1 - y0) > max_pixels:
        return f"malformed_box: box edge over {max_pixels} pixels"
    cx0, cy0, cx1, cy1 = max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1)
    if cx1 - cx0 < 1.0 or cy1 - cy0 < 1.0:
        return f"box_outside_image: {vals} does not overlap the {width}x{height} image"
    return (cx0, cy0, cx1, cy1)


def _frustum_points(view: KeyView, box: tuple[float, float, float, float], cloud: NDArray[np.float64],
                    cfg: LiftConfig) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Odom points in the box's frustum and their (u, v) pixels."""
    k = view.intrinsics
    x0, y0, x1, y1 = math.floor(box[0]), math.floor(box[1]), math.ceil(box[2]), math.ceil(box[3])
    vs, us = np.mgrid[y0:y1:cfg.pixel_stride, x0:x1:cfg.pixel_stride]
    z = view.depth[vs, us].astype(float)
    ok = np.isfinite(z) & (z > 0)
    us, vs, z = us[ok].astype(float), vs[ok].astype(float), z[ok]
    pc = np.stack([(us - k.cx) / k.fx * z, (vs - k.cy) / k.fy * z, z], axis=1)
    pts = pc @ view.pose[:3, :3].T + view.pose[:3, 3]
    uv = np.stack([us, vs], axis=1)
    if len(cloud):
        # Every fused point in the frustum, also those the view cannot see (the far side of the object,
        # seen from elsewhere); what lies farther behind is split off by clustering. Points clearly in
        # front of the view's own depth were not there when the view was taken and are left out.
        cam = (cloud - view.pose[:3, 3]) @ view.pose[:3, :3]
        front = cam[:, 2] > 1e-3
        cam, world = cam[front], cloud[front]
        cu = k.fx * cam[:, 0] / cam[:, 2] + k.cx
        cv = k.fy * cam[:, 1] / cam[:, 2] + k.cy
        inside = (cu >= box[0]) & (cu < box[2]) & (cv >= box[1]) & (cv < box[3])
        cam, world, cu, cv = cam[inside], world[inside], cu[inside], cv[inside]
        d = view.depth[np.clip(cv.astype(int), 0, k.height - 1), np.clip(cu.astype(int), 0, k.width - 1)]
        behind = (d <= 0) | (cam[:, 2] >= d - cfg.depth_tolerance_m)
        pts = np.concatenate([pts, world[behind]])
        uv = np.concatenate([uv, np.stack([cu[behind], cv[behind]], axis=1)])
    return pts, uv


def lift_box(view: KeyView, box_2d: Any, cloud: NDArray[np.float64] | None = None,
             config: LiftConfig | None = None) -> LiftResult:
    """Lift ``box_2d`` ([x0, y0, x1, y1] pixels in ``view``) to an axis-aligned 3D box; never raises on bad input."""
    cfg = config or LiftConfig()
    checked = check_box_2d(box_2d, view.intrinsics.width, view.intrinsics.height, cfg.max_pixels)
    if isinstance(checked, str):
        return LiftResult(None, checked)
    pts, uv = _frustum_points(view, checked, np.zeros((0, 3)) if cloud is None else np.asarray(cloud, float), cfg)
    keep = pts[:, 2] > cfg.floor_z_m + cfg.floor_margin_m
    pts, uv = pts[keep], uv[keep]
    if len(pts) < cfg.min_points:
        return LiftResult(None, f"no_depth: only {len(pts)} points above the floor inside the box", len(pts))
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
    # Back-projected pixels are spaced stride * depth / f apart: the radius must bridge that spacing.
    cam_z = (pts - view.pose[:3, 3]) @ view.pose[:3, 2]
    spacing = cfg.pixel_stride * float(np.median(cam_z)) / min(view.intrinsics.fx, view.intrinsics.fy)
    labels = np.asarray(pcd.cluster_dbscan(max(cfg.cluster_eps_m, 1.5 * spacing), cfg.cluster_min_points))
    # The object is the cluster that fills the middle of its 2D box; background frames the box.
    bx0, by0, bx1, by1 = checked
    mx, my = (bx1 - bx0) / 4, (by1 - by0) / 4
    central = (uv[:, 0] >= bx0 + mx) & (uv[:, 0] <= bx1 - mx) & (uv[:, 1] >= by0 + my) & (uv[:, 1] <= by1 - my)
    candidates = labels[central & (labels >= 0)]
    if candidates.size == 0:
        candidates = labels[labels >= 0]
    if candidates.size == 0:
        return LiftResult(None, f"no_object: {len(pts)} points but no cluster of {cfg.cluster_min_points}", len(pts))
    target = int(np.bincount(candidates).argmax())
    obj = pcd.select_by_index(np.flatnonzero(labels == target).tolist())
    if len(obj.points) > cfg.outlier_neighbors:
        obj, _ = obj.remove_statistical_outlier(cfg.outlier_neighbors, cfg.outlier_std_ratio)
    if len(obj.points) < cfg.min_points:
        return LiftResult(None, f"no_object: {len(obj.points)} points left after outlier removal", len(obj.points))
    aabb = obj.get_axis_aligned_bounding_box()
    lo, hi = np.array(aabb.min_bound, dtype=float), np.array(aabb.max_bound, dtype=float)
    if lo[2] - cfg.floor_z_m <= cfg.floor_snap_m:
        lo[2] = cfg.floor_z_m
    return LiftResult(Box3D.from_min_max(lo, hi), None, len(obj.points))


def project_box(box: Box3D, view: KeyView) -> tuple[float, float, float, float] | None:
    """The 2D box (pixels, clipped) a 3D box covers in ``view``, or None when it is behind or outside."""
    corners = box.corners()
    cam = (corners - view.pose[:3, 3]) @ view.pose[:3, :3]
    if np.all(cam[:, 2] <= 1e-3):
        return None
    cam = cam[cam[:, 2] > 1e-3]
    k = view.intrinsics
    u = k.fx * cam[:, 0] / cam[:, 2] + k.cx
    v = k.fy * cam[:, 1] / cam[:, 2] + k.cy
    x0, y0, x1, y1 = max(0.0, u.min()), max(0.0, v.min()), min(float(k.width), u.max()), min(float(k.height), v.max())
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    return (float(x0), float(y0), float(x1), float(y1))


__all__ = ["LiftConfig", "LiftResult", "check_box_2d", "lift_box", "project_box"]
