"""Short-term obstacle memory: points the camera stops seeing stay obstacles for a while.

A depth camera sees nothing nearer than its minimum range (a RealSense reports 0 there) and
nothing outside its field of view, so an obstacle the robot approaches vanishes from the frame
just when it matters. The memory keeps every obstacle point in the odometry frame, moved with
the robot's pose, and forgets it when the camera measures a valid depth at its pixel again (it
sees there now: the current frame holds whatever is there), when it leaves the zones' box (the
robot moved away), or ``hold_s`` after it was last seen. Pure and time-injected: the owner of the
:class:`~nav_r1.control.inputs.ObstacleSource` that holds it calls it from one thread.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from nav_r1.control.config import MemoryConfig
from r1_core.reasoner import Pose2D


def base_to_odom(points: NDArray[np.float32], pose: Pose2D) -> NDArray[np.float32]:
    """(N, 3) base_link points in the odometry frame (planar: z stays relative to the base)."""
    c, s = math.cos(pose.yaw), math.sin(pose.yaw)
    out = points.copy()
    out[:, 0] = pose.x + c * points[:, 0] - s * points[:, 1]
    out[:, 1] = pose.y + s * points[:, 0] + c * points[:, 1]
    return out


def odom_to_base(points: NDArray[np.float32], pose: Pose2D) -> NDArray[np.float32]:
    """(N, 3) odometry-frame points in base_link (the inverse of :func:`base_to_odom`)."""
    c, s = math.cos(pose.yaw), math.sin(pose.yaw)
    dx, dy = points[:, 0] - pose.x, points[:, 1] - pose.y
    out = points.copy()
    out[:, 0] = c * dx + s * dy
    out[:, 1] = -s * dx + c * dy
    return out


class ObstacleMemory:
    """Obstacle points in ``odom`` with the time each was last seen."""

    def __init__(self, cfg: MemoryConfig, box: tuple[float, float, float, float]) -> None:
        self.cfg = cfg
        self.box = box
        self._xyz = np.zeros((0, 3), dtype=np.float32)  # x, y in odom; z in base_link
        self._seen = np.zeros(0, dtype=np.float64)

    def __len__(self) -> int:
        return len(self._seen)

    def clear(self) -> None:
        """Forget every point."""
        self._xyz = np.zeros((0, 3), dtype=np.float32)
        self._seen = np.zeros(0, dtype=np.float64)

    def update(self, current: NDArray[np.float32], pose: Pose2D, stamp: float,
               measured: NDArray[np.bool_] | None, *, hold: bool = False) -> NDArray[np.float32]:
        """Store this frame's points and return the remembered ones still standing, in base_link.

        ``current`` (N, 3) are this frame's obstacle points in base_link; ``measured`` says for each
        remembered point (in the order of :meth:`remembered_base`) whether the frame has a valid
        depth at its pixel (None: no image, e.g. a point cloud). ``hold`` (a blind frame) keeps
        every remembered point and restarts its age.
        """
        old = odom_to_base(self._xyz, pose)
        keep = self._in_box(old)
        if hold:
            self._seen[:] = stamp
        else:
            keep &= (stamp - self._seen) <= self.cfg.hold_s
            if measured is not None:
                keep &= ~measured
        kept_base = old[keep]
        xyz = np.concatenate([base_to_odom(current.astype(np.float32, copy=False), pose), self._xyz[keep]])
        seen = np.concatenate([np.full(len(current), stamp), self._seen[keep]])
        self._xyz, self._seen = self._thin(xyz, seen)
        return kept_base

    def remembered_base(self, pose: Pose2D) -> NDArray[np.float32]:
        """Every remembered point in base_link at ``pose`` (the order :meth:`update` expects)."""
        return odom_to_base(self._xyz, pose)

    def _in_box(self, pts: NDArray[np.float32]) -> NDArray[np.bool_]:
        x0, x1, y0, y1 = self.box
        return (pts[:, 0] >= x0) & (pts[:, 0] <= x1) & (pts[:, 1] >= y0) & (pts[:, 1] <= y1)

    def _thin(self, xyz: NDArray[np.float32],
              seen: NDArray[np.float64]) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
        """One point per voxel_m cell in x, y (the first, i.e. the newest, wins), at most max_points."""
        if len(xyz) == 0:
            return xyz, seen
        cells = np.floor(xyz[:, :2] / self.cfg.voxel_m).astype(np.int64)
        keys = (cells[:, 0] << 32) + (cells[:, 1] & 0xFFFFFFFF)  # one int per cell: a 1-D unique is fast
        _, first = np.unique(keys, return_index=True)
        first.sort()  # keep the newest-first order: current points were put first
        xyz, seen = xyz[first], seen[first]
        if len(seen) > self.cfg.max_points:
            newest = np.argsort(-seen, kind="stable")[: self.cfg.max_points]
            xyz, seen = xyz[newest], seen[newest]
        return xyz, seen
