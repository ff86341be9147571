"""A small ray caster for scenes of axis-aligned boxes: colour, depth and instance ids per pixel.

The procedural scenes (``r1_sim.scene``) are all axis-aligned boxes, so exact RGB-D views with
per-pixel object ids come from a vectorised slab test in numpy, without a GL context. The data
engine and the tests use it; on the robot, frames come from the camera.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from nav_r1.scene.memory import CameraIntrinsics


@dataclass(frozen=True)
class RenderBox:
    """One box to draw: corners ``lo``/``hi`` (world), colour ``rgb`` in [0, 1], instance id (-1: none)."""

    lo: tuple[float, float, float]
    hi: tuple[float, float, float]
    rgb: tuple[float, float, float]
    instance: int = -1


def pixel_rays(k: CameraIntrinsics) -> NDArray[np.float64]:
    """Unnormalised optical-frame rays (H*W, 3) with z = 1, so a ray's parameter is the pixel's depth."""
    u, v = np.meshgrid(np.arange(k.width, dtype=float), np.arange(k.height, dtype=float))
    return np.stack([(u.ravel() - k.cx) / k.fx, (v.ravel() - k.cy) / k.fy, np.ones(u.size)], axis=1)


def render(
    boxes: Sequence[RenderBox], k: CameraIntrinsics, pose: NDArray[np.float64], max_depth_m: float = 10.0
) -> tuple[NDArray[np.uint8], NDArray[np.float32], NDArray[np.int32]]:
    """Colour (H, W, 3) uint8, depth (H, W) float32 metres (0: nothing) and instance ids (H, W; -1: none)."""
    h, w = k.height, k.width
    rays_cam = pixel_rays(k)
    dirs = rays_cam @ pose[:3, :3].T  # world directions, still scaled so t = depth
    origin = pose[:3, 3]
    safe = np.where(np.abs(dirs) < 1e-12, 1e-12, dirs)
    lo = np.array([b.lo for b in boxes], dtype=float)  # (B, 3)
    hi = np.array([b.hi for b in boxes], dtype=float)
    t1 = (lo[None, :, :] - origin) / safe[:, None, :]  # (N, B, 3)
    t2 = (hi[None, :, :] - origin) / safe[:, None, :]
    tnear = np.minimum(t1, t2)
    tfar = np.maximum(t1, t2).min(axis=2)
    t_in = tnear.max(axis=2)
    axis = tnear.argmax(axis=2)
    hit = (tfar >= np.maximum(t_in, 0.0)) & (t_in > 1e-6)
    t = np.where(hit, t_in, np.inf)
    best = t.argmin(axis=1)
    rows = np.arange(t.shape[0])
    depth = t[rows, best]
    valid = np.isfinite(depth) & (depth <= max_depth_m)
    colours = np.array([b.rgb for b in boxes], dtype=float)
    shade = np.array([0.78, 0.9, 1.0])[axis[rows, best]]  # faces lit differently, so edges show
    rgb = np.clip(colours[best] * shade[:, None], 0.0, 1.0)
    rgb[~valid] = 0.0
    inst = np.array([b.instance for b in boxes], dtype=np.int32)[best]
    inst[~valid] = -1
    depth = np.where(valid, depth, 0.0)
    return ((rgb * 255).round().astype(np.uint8).reshape(h, w, 3), depth.astype(np.float32).reshape(h, w),
            inst.reshape(h, w))


__all__ = ["RenderBox", "pixel_rays", "render"]
