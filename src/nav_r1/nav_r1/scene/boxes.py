"""Axis-aligned 3D boxes in the odometry frame (z up): construction, validation and 3D IoU.

Pure numpy, so the protocol, rewards and metrics use boxes without importing Open3D.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray


class BoxError(ValueError):
    """A box field is missing, not finite or of the wrong shape."""


def _vec3(value: Any, what: str) -> tuple[float, float, float]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)) or len(value) != 3:
        raise BoxError(f"'{what}' must be 3 numbers, got {str(value)[:60]!r}")
    out: list[float] = []
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise BoxError(f"'{what}[{i}]' must be a number, got {str(v)[:30]!r}")
        if not math.isfinite(float(v)):
            raise BoxError(f"'{what}[{i}]' must be finite, got {v}")
        out.append(float(v))
    return (out[0], out[1], out[2])


@dataclass(frozen=True)
class Box3D:
    """An axis-aligned box: ``center`` (x, y, z) and full ``size`` (sx, sy, sz), metres, odom frame."""

    center: tuple[float, float, float]
    size: tuple[float, float, float]

    def __post_init__(self) -> None:
        c = _vec3(self.center, "center")
        s = _vec3(self.size, "size")
        if min(s) < 0.0:
            raise BoxError(f"'size' must be non-negative, got {s}")
        object.__setattr__(self, "center", c)
        object.__setattr__(self, "size", s)

    @classmethod
    def from_min_max(cls, lo: Sequence[float] | NDArray[np.float64],
                     hi: Sequence[float] | NDArray[np.float64]) -> Box3D:
        """The box spanning corner ``lo`` to corner ``hi``."""
        a = np.asarray(_vec3(lo, "min"), dtype=float)
        b = np.asarray(_vec3(hi, "max"), dtype=float)
        if np.any(b < a):
            raise BoxError(f"box max {b.tolist()} is below min {a.tolist()}")
        return cls(tuple((a + b) / 2), tuple(b - a))

    @classmethod
    def from_dict(cls, data: Any, what: str = "box") -> Box3D:
        """``{"center": [x,y,z], "size": [sx,sy,sz]}``; :class:`BoxError` names the bad field."""
        if not isinstance(data, dict):
            raise BoxError(f"'{what}' must be an object with center and size, got {type(data).__name__}")
        if "center" not in data or "size" not in data:
            raise BoxError(f"'{what}' needs both 'center' and 'size'")
        try:
            return cls(_vec3(data["center"], f"{what}.center"), _vec3(data["size"], f"{what}.size"))
        except BoxError as exc:
            raise BoxError(str(exc).replace("'size'", f"'{what}.size'")) from exc

    def to_dict(self) -> dict[str, list[float]]:
        """The JSON form read by :meth:`from_dict` (millimetre rounding)."""
        return {"center": [round(v, 4) for v in self.center], "size": [round(v, 4) for v in self.size]}

    @property
    def min(self) -> NDArray[np.float64]:
        """The lowest corner."""
        return np.asarray(self.center) - np.asarray(self.size) / 2

    @property
    def max(self) -> NDArray[np.float64]:
        """The highest corner."""
        return np.asarray(self.center) + np.asarray(self.size) / 2

    @property
    def volume(self) -> float:
        """Volume in cubic metres."""
        return float(np.prod(self.size))

    def corners(self) -> NDArray[np.float64]:
        """The 8 corners, (8, 3)."""
        lo, hi = self.min, self.max
        return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])

    def contains(self, points: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Which of ``points`` (N, 3) lie inside the box."""
        return np.all((points >= self.min) & (points <= self.max), axis=1)


def iou_3d(a: Box3D, b: Box3D) -> float:
    """Intersection over union of two axis-aligned boxes (0 when both are empty)."""
    lo = np.maximum(a.min, b.min)
    hi = np.minimum(a.max, b.max)
    inter = float(np.prod(np.clip(hi - lo, 0.0, None)))
    union = a.volume + b.volume - inter
    return inter / union if union > 0 else 0.0


__all__ = ["Box3D", "BoxError", "iou_3d"]
