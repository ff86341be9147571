"""The one protocol every stereo backend implements, and the types it speaks.

``DepthBackend.compute(left, right, calib) -> DisparityResult``: SGBM, the learned network and any
test fake are interchangeable behind it. Inputs are checked once here (:func:`check_pair`), so a
backend never sees mismatched sizes, odd encodings or a zero baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import cv2
import numpy as np
from numpy.typing import NDArray

FloatImage = NDArray[np.float32]


class StereoInputError(ValueError):
    """A stereo input (image pair, calibration) is unusable; the message names what is wrong."""


@dataclass(frozen=True)
class StereoCalib:
    """Rectified pinhole calibration of the left camera plus the stereo baseline (metres)."""

    fx: float
    fy: float
    cx: float
    cy: float
    baseline_m: float
    width: int
    height: int

    def __post_init__(self) -> None:
        for name in ("fx", "fy", "cx", "cy", "baseline_m"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise StereoInputError(f"calibration {name} must be finite, got {value!r}")
        if self.fx <= 0 or self.fy <= 0:
            raise StereoInputError(f"focal lengths must be positive, got fx={self.fx}, fy={self.fy}")
        if abs(self.baseline_m) < 1e-6:
            raise StereoInputError(f"stereo baseline must be non-zero, got {self.baseline_m} m")
        if self.width <= 0 or self.height <= 0:
            raise StereoInputError(f"image size must be positive, got {self.width}x{self.height}")

    @classmethod
    def from_matrix(cls, k: NDArray[np.floating], baseline_m: float, width: int, height: int) -> StereoCalib:
        """Build from a 3x3 intrinsic matrix."""
        m = np.asarray(k, dtype=np.float64)
        if m.shape != (3, 3):
            raise StereoInputError(f"intrinsic matrix must be 3x3, got shape {m.shape}")
        return cls(float(m[0, 0]), float(m[1, 1]), float(m[0, 2]), float(m[1, 2]), float(baseline_m),
                   int(width), int(height))

    @property
    def focal_baseline(self) -> float:
        """fx · |baseline|: depth = focal_baseline / disparity."""
        return self.fx * abs(self.baseline_m)

    def matrix(self) -> NDArray[np.float64]:
        """The 3x3 intrinsic matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def scaled(self, width: int, height: int) -> StereoCalib:
        """The same camera seen at another resolution (disparities scale with the width)."""
        sx, sy = width / self.width, height / self.height
        return StereoCalib(self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, self.baseline_m,
                           width, height)


@dataclass
class DisparityResult:
    """Left-view disparity in pixels (``valid`` marks trusted pixels; invalid ones hold 0)."""

    disparity: FloatImage
    valid: NDArray[np.bool_]
    min_disparity: float = 0.0
    max_disparity: float = 0.0
    timings_ms: dict[str, float] = field(default_factory=dict)

    def depth(self, calib: StereoCalib, min_depth_m: float = 0.0, max_depth_m: float = math.inf) -> FloatImage:
        """Depth in metres (NaN where invalid or outside [min_depth_m, max_depth_m], per REP 118)."""
        return disparity_to_depth(self.disparity, self.valid, calib, min_depth_m, max_depth_m)


def calib_from_camera_infos(
    k_left: NDArray[np.floating], p_right: NDArray[np.floating], left_size: tuple[int, int],
    right_size: tuple[int, int],
) -> StereoCalib:
    """Calibration from the left K and the right projection P (P[0,3] = -fx·B, as ROS defines it).

    Sizes are (width, height) from each camera_info; they must agree.
    """
    if tuple(left_size) != tuple(right_size):
        raise StereoInputError(f"left camera_info is {left_size[0]}x{left_size[1]} but right is "
                               f"{right_size[0]}x{right_size[1]}")
    p = np.asarray(p_right, dtype=np.float64).reshape(-1)
    if p.size != 12:
        raise StereoInputError(f"right projection matrix must have 12 entries, got {p.size}")
    fx_r = p[0]
    if not fx_r > 0:
        raise StereoInputError("right camera_info has no projection matrix (P[0,0] = 0)")
    baseline = -p[3] / fx_r
    if not math.isfinite(baseline) or abs(baseline) < 1e-6:
        raise StereoInputError("right camera_info P[0,3] gives a zero stereo baseline; "
                               "set P[0,3] = -fx * baseline")
    return StereoCalib.from_matrix(np.asarray(k_left, dtype=np.float64).reshape(3, 3), baseline,
                                   int(left_size[0]), int(left_size[1]))


def depth_to_points(depth: FloatImage, calib: StereoCalib, stride: int = 1) -> NDArray[np.float32]:
    """Nx3 points (x right, y down, z forward; optical frame) from finite depth, every ``stride`` px."""
    d = depth[::stride, ::stride]
    vs, us = np.nonzero(np.isfinite(d))
    z = d[vs, us]
    u, v = us * stride, vs * stride
    x = (u - calib.cx) * z / calib.fx
    y = (v - calib.cy) * z / calib.fy
    return np.stack([x, y, z], axis=1).astype(np.float32)


def disparity_to_depth(
    disparity: FloatImage,
    valid: NDArray[np.bool_],
    calib: StereoCalib,
    min_depth_m: float = 0.0,
    max_depth_m: float = math.inf,
) -> FloatImage:
    """Depth = fx·B / d on valid pixels with d > 0; NaN elsewhere."""
    ok = valid & (disparity > 0)
    depth = np.full(disparity.shape, np.nan, dtype=np.float32)
    depth[ok] = calib.focal_baseline / disparity[ok]
    depth[(depth < min_depth_m) | (depth > max_depth_m)] = np.nan
    return depth


@runtime_checkable
class DepthBackend(Protocol):
    """Computes left-view disparity from a rectified pair."""

    name: str

    def compute(self, left: NDArray[np.uint8], right: NDArray[np.uint8], calib: StereoCalib) -> DisparityResult:
        """Disparity of ``left`` against ``right`` (both HxW or HxWx3 uint8, already checked)."""
        ...


def check_pair(
    left: NDArray[np.generic], right: NDArray[np.generic], calib: StereoCalib | None
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Validate a pair against each other and the calibration; return uint8 images.

    Accepts HxW (mono) or HxWx3 (RGB) uint8 images, or float images in [0, 1].
    """
    if calib is None:
        raise StereoInputError("no camera calibration (camera_info) for this pair")
    out = []
    for name, img in (("left", left), ("right", right)):
        arr = np.asarray(img)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3):
            raise StereoInputError(f"{name} image must be HxW or HxWx3, got shape {arr.shape}")
        if arr.dtype == np.uint8:
            out.append(arr)
        elif arr.dtype in (np.float32, np.float64):
            if not np.isfinite(arr).all():
                raise StereoInputError(f"{name} image has non-finite values")
            out.append(np.clip(arr * 255.0 + 0.5, 0, 255).astype(np.uint8))
        else:
            raise StereoInputError(f"{name} image must be uint8 or float in [0, 1], got {arr.dtype}")
    lft, rgt = out
    if lft.shape != rgt.shape:
        raise StereoInputError(f"left and right images differ: {lft.shape} vs {rgt.shape}")
    h, w = lft.shape[:2]
    if (w, h) != (calib.width, calib.height):
        raise StereoInputError(
            f"image size {w}x{h} does not match camera_info {calib.width}x{calib.height}"
        )
    return lft, rgt


def to_gray(img: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Luma of an RGB image (mono passes through)."""
    if img.ndim == 2:
        return img
    return np.asarray(cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY), dtype=np.uint8)


def to_rgb(img: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """RGB view of an image (mono is replicated to three channels)."""
    if img.ndim == 3:
        return img
    return np.repeat(img[:, :, None], 3, axis=2)
