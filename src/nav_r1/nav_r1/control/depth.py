"""Depth image -> obstacle points in base_link, vectorised; rays are precomputed per intrinsics."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from nav_r1.control.config import DepthConfig

# Camera body frame (REP-103: x forward, y left, z up) from the optical frame (z forward, x right,
# y down): the columns are the optical axes written in the body frame.
_BODY_R_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def rpy_matrix(roll: float, pitch: float, yaw: float) -> NDArray[np.float64]:
    """Rotation ``Rz(yaw) @ Ry(pitch) @ Rx(roll)`` (fixed-axis roll, pitch, yaw as in URDF)."""
    cr, sr = math.cos(roll), math.sin(roll)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    return np.array([
        [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
        [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
        [-sp, cp * sr, cp * cr],
    ])


def base_T_optical(xyzrpy: Sequence[float]) -> NDArray[np.float64]:  # noqa: N802 (frame-pair notation)
    """base_link_T_camera_optical (4x4) from the camera body frame's x, y, z, roll, pitch, yaw."""
    x, y, z, roll, pitch, yaw = xyzrpy
    out = np.eye(4)
    out[:3, :3] = rpy_matrix(roll, pitch, yaw) @ _BODY_R_OPTICAL
    out[:3, 3] = (x, y, z)
    return out


def base_from_optical(cfg: DepthConfig) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Rotation and translation taking camera optical-frame points into base_link."""
    t = base_T_optical(cfg.base_T_camera)
    return t[:3, :3].astype(np.float32), t[:3, 3].astype(np.float32)


class DepthProjector:
    """Projects (H, W) float32 depth in metres to (N, 3) float32 points in base_link.

    Every ``stride``-th pixel is used; NaN, 0, inf and depths outside [min_range, max_range] are
    dropped, and so are points outside the height band (floor and ceiling).
    """

    def __init__(self, k: NDArray[np.float64], width: int, height: int, cfg: DepthConfig) -> None:
        k = np.asarray(k, dtype=np.float64)
        if k.shape != (3, 3) or k[0, 0] <= 0.0 or k[1, 1] <= 0.0:
            raise ValueError(f"camera matrix K must be 3x3 with positive fx, fy, got {k.tolist()}")
        if width <= 0 or height <= 0:
            raise ValueError(f"image size must be positive, got {width}x{height}")
        self.width, self.height, self.cfg = width, height, cfg
        s = cfg.stride
        u = np.arange(0, width, s, dtype=np.float64)
        v = np.arange(0, height, s, dtype=np.float64)
        uu, vv = np.meshgrid(u, v)
        rays = np.stack([(uu - k[0, 2]) / k[0, 0], (vv - k[1, 2]) / k[1, 1], np.ones_like(uu)], axis=-1)
        rot, self._t = base_from_optical(cfg)
        # Point = depth * dir + t: one multiply-add per axis per pixel at run time.
        self._dirs = (rays.reshape(-1, 3) @ rot.T.astype(np.float64)).astype(np.float32)
        self._dirs_t = np.ascontiguousarray(self._dirs.T)  # per-axis rows for the one full pass
        self.k = k

    def matches(self, k: NDArray[np.float64], width: int, height: int) -> bool:
        """Whether this projector was built for this camera matrix and image size."""
        return self.width == width and self.height == height and bool(np.array_equal(self.k, k))

    def points(self, depth_m: NDArray[np.float32],
               roi: tuple[float, float, float, float] | None = None) -> NDArray[np.float32]:
        """Obstacle points (N, 3) in base_link from one depth frame.

        ``roi`` = (x_min, x_max, y_min, y_max) in base_link keeps only points inside that box (the
        zones' bounding box): the far scene is dropped after one pass, before any gather.
        """
        if depth_m.shape != (self.height, self.width):
            raise ValueError(f"depth image is {depth_m.shape}, expected {(self.height, self.width)} from camera_info")
        cfg = self.cfg
        s = cfg.stride
        d = np.asarray(depth_m[::s, ::s], dtype=np.float32).reshape(-1)
        with np.errstate(invalid="ignore"):
            # NaN compares false, so invalid pixels fall out of every mask below.
            mask = (d > cfg.min_range) & (d < cfg.max_range)
            if roi is not None:
                x = d * self._dirs_t[0] + self._t[0]
                mask &= (x >= roi[0]) & (x <= roi[1])
            idx = np.flatnonzero(mask)
            dv = d[idx]
            dirs = self._dirs[idx]
            out = dirs * dv[:, None]
            out += self._t
            keep = (out[:, 2] >= cfg.min_height) & (out[:, 2] <= cfg.max_height)
            if roi is not None:
                keep &= (out[:, 1] >= roi[2]) & (out[:, 1] <= roi[3])
        return out[keep]

    def pixels(self, points_base: NDArray[np.float32]) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.bool_]]:
        """Full-resolution pixel (row, column) of each base_link point (N, 3), and whether it is in the image.

        A point behind the camera or outside the image is not in it; its row and column are 0.
        """
        rot, t = base_from_optical(self.cfg)
        opt = (points_base.astype(np.float64) - t) @ rot.astype(np.float64)  # R^T (p - t), row-wise
        z = opt[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = self.k[0, 0] * opt[:, 0] / z + self.k[0, 2]
            v = self.k[1, 1] * opt[:, 1] / z + self.k[1, 2]
            # Pixel i covers [i - 0.5, i + 0.5): the projector's rays go through pixel centres.
            inside = (z > 1e-6) & (u > -0.5) & (u < self.width - 0.5) & (v > -0.5) & (v < self.height - 0.5)
        col = np.rint(np.where(inside, u, 0.0)).astype(np.intp)
        row = np.rint(np.where(inside, v, 0.0)).astype(np.intp)
        return row, col, inside
