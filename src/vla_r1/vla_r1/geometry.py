"""Image points to 3D: depth lookup robust to holes, back-projection, and frame transforms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from vla_r1.urdf import Mat4


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of the (colour-aligned) depth image, pixels."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    @classmethod
    def from_matrix(cls, k: NDArray[np.float64], width: int, height: int) -> Intrinsics:
        """From a (3, 3) camera matrix K (as in ``CameraInfo.k``)."""
        k = np.asarray(k, dtype=float).reshape(3, 3)
        if k[0, 0] <= 0 or k[1, 1] <= 0:
            raise ValueError(f"camera matrix has non-positive focal lengths: fx={k[0, 0]}, fy={k[1, 1]}")
        return cls(float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]), int(width), int(height))

    def matrix(self) -> NDArray[np.float64]:
        """The (3, 3) camera matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])


class LiftError(ValueError):
    """An image point cannot be lifted to 3D (outside the image, no valid depth)."""


def robust_depth(
    depth: NDArray[np.float32],
    u: float,
    v: float,
    *,
    window: int = 7,
    min_valid_fraction: float = 0.3,
    min_depth: float = 0.05,
    max_depth: float = 10.0,
) -> float:
    """The median of the valid depths in a ``window``-pixel square around pixel (u, v), metres.

    (u, v) follow OpenCV's convention: integer coordinates are pixel centres.

    Holes (0, NaN, inf, out of range) are ignored; fewer than ``min_valid_fraction`` valid pixels
    raises :class:`LiftError` rather than guessing.
    """
    h, w = depth.shape
    if not (-0.5 <= u < w - 0.5 and -0.5 <= v < h - 0.5):
        raise LiftError(f"pixel ({u:.1f}, {v:.1f}) is outside the {w}x{h} depth image")
    half = window // 2
    ui, vi = min(max(round(u), 0), w - 1), min(max(round(v), 0), h - 1)
    patch = depth[max(0, vi - half) : vi + half + 1, max(0, ui - half) : ui + half + 1].astype(np.float64)
    valid = patch[np.isfinite(patch) & (patch >= min_depth) & (patch <= max_depth)]
    if valid.size < max(1, int(np.ceil(min_valid_fraction * patch.size))):
        raise LiftError(f"no reliable depth at pixel ({u:.1f}, {v:.1f}): {valid.size} of {patch.size} pixels valid")
    return float(np.median(valid))


def normalised_to_pixel(x: float, y: float, k: Intrinsics) -> tuple[float, float]:
    """Normalised image coordinates ([0, 1] over the image's extent) to OpenCV pixel coordinates."""
    # [0, 1] spans the outer edges of the image, whose pixel centres sit at integers.
    return x * k.width - 0.5, y * k.height - 0.5


def pixel_to_normalised(u: float, v: float, k: Intrinsics) -> tuple[float, float]:
    """OpenCV pixel coordinates to normalised image coordinates."""
    return (u + 0.5) / k.width, (v + 0.5) / k.height


def backproject(u: float, v: float, z: float, k: Intrinsics) -> NDArray[np.float64]:
    """The 3D point (optical frame: x right, y down, z forward) seen at pixel (u, v) at depth z."""
    return np.array([(u - k.cx) * z / k.fx, (v - k.cy) * z / k.fy, z])


def project(point_cam: NDArray[np.float64], k: Intrinsics) -> NDArray[np.float64]:
    """Pixel (u, v) of a point in the optical frame (z must be positive)."""
    z = float(point_cam[2])
    if z <= 0:
        raise ValueError(f"point is behind the camera (z={z:.3f})")
    return np.array([k.fx * point_cam[0] / z + k.cx, k.fy * point_cam[1] / z + k.cy])


def transform_points(t: Mat4, points: NDArray[np.float64]) -> NDArray[np.float64]:
    """Apply a (4, 4) transform to (N, 3) or (3,) points."""
    p = np.asarray(points, dtype=float)
    return p @ t[:3, :3].T + t[:3, 3]


def lift_normalised(
    points_norm: NDArray[np.float64],
    depth: NDArray[np.float32],
    k: Intrinsics,
    base_from_camera: Mat4,
    *,
    window: int = 7,
    min_valid_fraction: float = 0.3,
) -> NDArray[np.float64]:
    """Lift (N, 2) image points normalised to [0, 1] to (N, 3) points in the base frame.

    The depth image must be aligned with the image the points refer to; raises :class:`LiftError`
    naming the first point that has no reliable depth.
    """
    if depth.shape != (k.height, k.width):
        raise LiftError(f"depth image {depth.shape} does not match the intrinsics ({k.height}, {k.width})")
    out = []
    for i, (x, y) in enumerate(np.asarray(points_norm, dtype=float).reshape(-1, 2)):
        u, v = normalised_to_pixel(x, y, k)
        try:
            z = robust_depth(depth, u, v, window=window, min_valid_fraction=min_valid_fraction)
        except LiftError as exc:
            raise LiftError(f"point {i}: {exc}") from exc
        out.append(backproject(u, v, z, k))
    return transform_points(base_from_camera, np.array(out))
