"""Regulated pure pursuit for generic paths (the semantics of Nav2's regulated_pure_pursuit).

Lookahead scales with speed; speed is regulated down on tight curvature and near the goal; the
robot rotates in place first when the path points far off its heading.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from nav_r1.control.config import PursuitConfig
from nav_r1.control.types import ZERO, Twist
from r1_core import Pose2D


class PurePursuit:
    """Follows a polyline of poses in odom; ``segment`` is the index of the nearest segment."""

    kind = "pursuit"

    def __init__(self, poses: tuple[Pose2D, ...]) -> None:
        if len(poses) < 2:
            raise ValueError("pure pursuit needs at least two poses")
        self.xy: NDArray[np.float64] = np.array([[p.x, p.y] for p in poses], dtype=np.float64)
        seg = np.diff(self.xy, axis=0)
        self._seg_len = np.hypot(seg[:, 0], seg[:, 1])
        # Arc length at each vertex, to find the lookahead point and the distance left.
        self._arc = np.concatenate([[0.0], np.cumsum(self._seg_len)])
        self.segment = 0
        self.goal = poses[-1]

    @property
    def z_target(self) -> float:
        """Altitude to hold while tracking (the last pose's)."""
        return self.goal.z

    def _project(self, x: float, y: float) -> tuple[int, float]:
        """Nearest segment at or after the current one and the arc length of the nearest point."""
        start = self.segment
        # Only look a few segments ahead so a path that crosses itself is followed in order.
        stop = min(len(self._seg_len), start + 20)
        best_i, best_d, best_s = start, math.inf, float(self._arc[start])
        for i in range(start, stop):
            ax, ay = self.xy[i]
            bx, by = self.xy[i + 1]
            length = self._seg_len[i]
            if length <= 1e-9:
                continue
            t = ((x - ax) * (bx - ax) + (y - ay) * (by - ay)) / (length * length)
            t = min(1.0, max(0.0, t))
            px, py = ax + t * (bx - ax), ay + t * (by - ay)
            d = math.hypot(x - px, y - py)
            if d < best_d:
                best_i, best_d, best_s = i, d, float(self._arc[i] + t * length)
        return best_i, best_s

    def _point_at(self, s: float) -> tuple[float, float]:
        total = float(self._arc[-1])
        if s >= total:
            return float(self.xy[-1, 0]), float(self.xy[-1, 1])
        i = int(np.searchsorted(self._arc, s, side="right")) - 1
        i = min(max(i, 0), len(self._seg_len) - 1)
        t = (s - self._arc[i]) / max(self._seg_len[i], 1e-9)
        p = self.xy[i] + t * (self.xy[i + 1] - self.xy[i])
        return float(p[0]), float(p[1])

    def step(self, pose: Pose2D, speed_now: float, cfg: PursuitConfig, decel: float,
             angular_speed: float) -> tuple[Twist, bool]:
        """Command along the path and whether the last pose is reached."""
        gx, gy = float(self.xy[-1, 0]), float(self.xy[-1, 1])
        to_goal = math.hypot(gx - pose.x, gy - pose.y)
        self.segment, s = self._project(pose.x, pose.y)
        remaining = max(float(self._arc[-1]) - s, to_goal)
        if to_goal < cfg.goal_tolerance:
            return ZERO, True
        lookahead = min(cfg.max_lookahead, max(cfg.min_lookahead, abs(speed_now) * cfg.lookahead_time))
        lx_w, ly_w = self._point_at(s + lookahead)
        dx, dy = lx_w - pose.x, ly_w - pose.y
        c, sn = math.cos(pose.yaw), math.sin(pose.yaw)
        lx, ly = c * dx + sn * dy, -sn * dx + c * dy
        angle = math.atan2(ly, lx)
        if abs(angle) > math.radians(cfg.rotate_to_heading_deg):
            return Twist(0.0, 0.0, 0.0, math.copysign(angular_speed, angle)), False
        dist2 = lx * lx + ly * ly
        curvature = 2.0 * ly / dist2 if dist2 > 1e-9 else 0.0
        v = cfg.desired_linear_speed
        if curvature != 0.0 and 1.0 / abs(curvature) < cfg.regulated_min_radius:
            v *= (1.0 / abs(curvature)) / cfg.regulated_min_radius
        if cfg.approach_distance > 0.0 and remaining < cfg.approach_distance:
            v = max(v * remaining / cfg.approach_distance, cfg.min_approach_speed)
        # Closed-loop trapezoid on the distance left, as for the primitives, with a creep floor.
        v = max(min(v, math.sqrt(2.0 * decel * remaining)), cfg.min_approach_speed)
        return Twist(v, 0.0, 0.0, v * curvature), False
