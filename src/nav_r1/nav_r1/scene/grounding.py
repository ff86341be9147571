"""Lift a 2D box in a key view to a 3D box in the odom frame through depth and the fused cloud.

Inside the box, the view's depth (floor cut) is split into surfaces where neighbouring pixels jump
in depth — the object's outline against what lies behind it — and the surface that fills the
middle of the 2D box is the object's visible part. Pixel adjacency, unlike a 3D radius, keeps a
table top seen at a grazing angle in one piece. The fused cloud then adds what other views saw of
the object (points hidden behind the object's own pixels in this view, connected to it within
``grow_radius_m``); Open3D's statistical outlier removal drops stragglers and
``AxisAlignedBoundingBox`` gives the box. A box
that is malformed, outside the image or sees no depth is an error with a reason, never a guess.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from nav_r1.scene.boxes import Box3D
from nav_r1.scene.memory import KeyView, open3d_module
from r1_core.params import param, validate_params


@dataclass(frozen=True)
class LiftConfig:
    """How a 2D box becomes a 3D box."""

    floor_z_m: float = param(0.0, "Floor height in the odom frame [m]", min=-10.0, max=10.0)
    # Points this close to the floor belong to it, not to the object standing on it.
    floor_margin_m: float = param(0.04, "Points below floor_z + this are floor [m]", min=0.0, max=1.0)
    # An object whose lowest point is this close to the floor stands on it: its box reaches the floor.
    floor_snap_m: float = param(0.12, "Extend a box down to the floor when it ends this close [m]", min=0.0, max=1.0)
    # Neighbouring pixels of one surface differ in depth by about 1 / (f * tan(angle)) of the depth per
    # pixel, the angle being between the surface and the viewing ray: 5.5 % for a table top seen at 20
    # degrees by a camera with f = 50 px, 0.5 % at 20 degrees with f = 600 px. A larger jump is an outline.
    min_surface_angle_deg: float = param(20.0, "Surfaces seen at a shallower angle may split in two [deg]",
                                         min=1.0, max=80.0)
    depth_noise: float = param(0.02, "Depth noise as a fraction of the depth: smaller jumps never split",
                               min=0.0, max=0.5)
    max_samples: int = param(6000, "Most depth pixels sampled inside a box (the stride grows beyond)", min=100)
    grow_radius_m: float = param(0.075, "Fused points hidden behind the object and this close to it join it "
                                 "(its far side, seen from other views) [m]", min=0.0, max=1.0)
    grow_margin_m: float = param(1.0, "Growth stays within the visible part's box plus this [m]", min=0.0, max=5.0)
    voxel_size_m: float = param(0.05, "Grid the object's points are put on before outlier removal [m]",
                                min=0.005, max=1.0)
    outlier_neighbors: int = param(16, "Neighbours for statistical outlier removal", min=2, max=200)
    outlier_std_ratio: float = param(1.0, "Standard deviations kept by outlier removal", min=0.1, max=10.0)
    min_points: int = param(10, "Fewest points that make a box", min=3)
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


@dataclass(frozen=True)
class _Segment:
    """The object's visible part: odom points, and its mask on the sampled pixel grid."""

    points: NDArray[np.float64]
    mask: NDArray[np.bool_]
    x0: int
    y0: int
    stride: int


def _segment(view: KeyView, box: tuple[float, float, float, float], cfg: LiftConfig) -> _Segment | str:
    """The depth surface that fills the middle of the box (pixels connected without depth jumps)."""
    k = view.intrinsics
    x0, y0, x1, y1 = math.floor(box[0]), math.floor(box[1]), math.ceil(box[2]), math.ceil(box[3])
    stride = max(1, math.ceil(math.sqrt((x1 - x0) * (y1 - y0) / cfg.max_samples)))
    vs, us = np.mgrid[y0:y1:stride, x0:x1:stride]
    z = view.depth[vs, us].astype(float)
    ok = np.isfinite(z) & (z > 0)
    z = np.where(ok, z, 0.0)
    cam = np.stack([(us - k.cx) / k.fx * z, (vs - k.cy) / k.fy * z, z], axis=-1)
    pts = cam @ view.pose[:3, :3].T + view.pose[:3, 3]
    ok &= pts[..., 2] > cfg.floor_z_m + cfg.floor_margin_m
    if np.count_nonzero(ok) < cfg.min_points:
        return f"no_depth: only {np.count_nonzero(ok)} depth pixels above the floor inside the box"
    # Connected components of the pixel grid, cut where depth jumps (the object's outline).
    f = min(k.fx, k.fy)
    jump = max(cfg.depth_noise, stride / (f * math.tan(math.radians(cfg.min_surface_angle_deg))))
    index = np.arange(z.size).reshape(z.shape)
    rows: list[NDArray[np.int64]] = []
    cols: list[NDArray[np.int64]] = []
    for a, b in (((slice(None), slice(None, -1)), (slice(None), slice(1, None))),
                 ((slice(None, -1), slice(None)), (slice(1, None), slice(None)))):
        za, zb = z[a], z[b]
        link = ok[a] & ok[b] & (np.abs(za - zb) <= jump * np.minimum(za, zb))
        rows.append(index[a][link])
        cols.append(index[b][link])
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(r)), (r, c)), shape=(z.size, z.size))
    _, labels = connected_components(graph, directed=False)
    labels = labels.reshape(z.shape)
    h, w = z.shape
    centre = np.zeros_like(ok)
    centre[h // 4: h - h // 4 or None, w // 4: w - w // 4 or None] = True
    candidates = labels[ok & centre] if np.any(ok & centre) else labels[ok]
    target = int(np.bincount(candidates).argmax())
    member = ok & (labels == target)
    if np.count_nonzero(member) < cfg.min_points:
        return f"no_object: the surface in the middle of the box has only {np.count_nonzero(member)} pixels"
    return _Segment(pts[member], member, x0, y0, stride)


def _grow(seg: _Segment, view: KeyView, cloud: NDArray[np.float64], cfg: LiftConfig) -> NDArray[np.float64]:
    """Fused points hidden behind the object's visible surface in this view and connected to it.

    Only points behind pixels of the object itself qualify, so the wall or floor the view saw around
    the object never joins it; what qualifies is the object's far side, seen from other views.
    """
    k = view.intrinsics
    cam = (cloud - view.pose[:3, 3]) @ view.pose[:3, :3]
    front = cam[:, 2] > 1e-3
    cam, world = cam[front], cloud[front]
    col = np.floor((k.fx * cam[:, 0] / cam[:, 2] + k.cx - seg.x0) / seg.stride).astype(np.int64)
    row = np.floor((k.fy * cam[:, 1] / cam[:, 2] + k.cy - seg.y0) / seg.stride).astype(np.int64)
    h, w = seg.mask.shape
    inside = (row >= 0) & (row < h) & (col >= 0) & (col < w)
    cam, world, row, col = cam[inside], world[inside], row[inside], col[inside]
    on_object = seg.mask[row, col]
    d = view.depth[np.clip(seg.y0 + row * seg.stride, 0, k.height - 1),
                   np.clip(seg.x0 + col * seg.stride, 0, k.width - 1)]
    # Behind the surface by at least half the growth radius: the visible surface's own fused points
    # stay out, and the first hidden shell is still within reach of it.
    hidden = on_object & (cam[:, 2] > d + cfg.grow_radius_m / 2)
    lo, hi = seg.points.min(axis=0) - cfg.grow_margin_m, seg.points.max(axis=0) + cfg.grow_margin_m
    world = world[hidden & np.all((world >= lo) & (world <= hi), axis=1)
                  & (world[:, 2] > cfg.floor_z_m + cfg.floor_margin_m)]
    if len(world) == 0 or cfg.grow_radius_m <= 0:
        return np.zeros((0, 3))
    # The hidden points touching the visible part join, then those touching them, and so on.
    tree = cKDTree(world)
    joined = np.zeros(len(world), dtype=bool)
    frontier = seg.points
    for _ in range(1000):  # each pass adds a shell of grow_radius_m; the margin bounds the passes
        hits = tree.query_ball_point(frontier, cfg.grow_radius_m)
        new = np.unique(np.fromiter((i for lst in hits for i in lst), dtype=np.int64))
        new = new[~joined[new]] if len(new) else new
        if len(new) == 0:
            break
        joined[new] = True
        frontier = world[new]
    return world[joined]


def lift_box(view: KeyView, box_2d: Any, cloud: NDArray[np.float64] | None = None,
             config: LiftConfig | None = None) -> LiftResult:
    """Lift ``box_2d`` ([x0, y0, x1, y1] pixels in ``view``) to an axis-aligned 3D box; never raises on bad input."""
    cfg = config or LiftConfig()
    checked = check_box_2d(box_2d, view.intrinsics.width, view.intrinsics.height, cfg.max_pixels)
    if isinstance(checked, str):
        return LiftResult(None, checked)
    segment = _segment(view, checked, cfg)
    if isinstance(segment, str):
        return LiftResult(None, segment)
    pts = segment.points
    if cloud is not None and len(cloud):
        pts = np.concatenate([pts, _grow(segment, view, np.asarray(cloud, dtype=float), cfg)])
    # On one grid, so the dense visible part and the sparser far side weigh alike in outlier removal.
    o3d = open3d_module()
    obj = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts)).voxel_down_sample(cfg.voxel_size_m)
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
