"""Top-down grasp poses from a lifted affordance point: approach above, grasp, lift."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class GraspPoses:
    """Tool-centre-point positions in the base frame; the gripper points straight down."""

    approach: NDArray[np.float64]
    grasp: NDArray[np.float64]
    lift: NDArray[np.float64]


def grasp_poses(
    surface_point: NDArray[np.float64],
    *,
    approach_height: float,
    grasp_depth: float,
    lift_height: float,
    min_tcp_z: float,
) -> GraspPoses:
    """Poses for a top-down grasp of the surface seen at ``surface_point`` (base frame, metres).

    The fingertips close ``grasp_depth`` below the visible top surface, never below ``min_tcp_z``
    (the table, with clearance); approach and lift are straight above the grasp.
    """
    p = np.asarray(surface_point, dtype=float)
    if p.shape != (3,) or not np.all(np.isfinite(p)):
        raise ValueError(f"surface point must be 3 finite numbers, got {p!r}")
    grasp = p - np.array([0.0, 0.0, grasp_depth])
    grasp[2] = max(grasp[2], min_tcp_z)
    up = np.array([0.0, 0.0, 1.0])
    return GraspPoses(approach=grasp + up * approach_height, grasp=grasp, lift=grasp + up * lift_height)


def trajectory_targets(
    surface_points: NDArray[np.float64], *, hover_height: float, min_tcp_z: float
) -> NDArray[np.float64]:
    """Tool-centre-point targets hovering ``hover_height`` above lifted image waypoints (N, 3)."""
    pts = np.asarray(surface_points, dtype=float).reshape(-1, 3).copy()
    pts[:, 2] = np.maximum(pts[:, 2] + hover_height, min_tcp_z)
    return pts
