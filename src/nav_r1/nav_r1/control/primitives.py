"""Motion primitives closed on odometry: drive, turn and climb, each a trapezoid on remaining error.

A primitive's target is a pose in ``odom``, never a duration: the speed is the trapezoid's value
for the error left, ``min(cruise, sqrt(2 * a * error))`` with a creep floor, so odometry noise and
wheel slip change when it ends, not where.  The acceleration side of the trapezoid is the
:class:`~nav_r1.control.limits.VelocityLimiter`'s job, so a primitive only plans the braking side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nav_r1.control.config import PrimitiveConfig
from nav_r1.control.types import ZERO, Odometry, Twist
from r1_core import Pose2D
from r1_core.geometry import wrap_angle


def trapezoid_speed(error: float, cruise: float, decel: float, creep: float) -> float:
    """Speed magnitude for the error left: cruise, braking as ``sqrt(2 a e)``, never below creep."""
    return max(creep, min(cruise, math.sqrt(2.0 * decel * abs(error))))


def settled(speed: float, creep: float) -> bool:
    """Slow enough to call a primitive finished (it would otherwise coast past the tolerance)."""
    return abs(speed) <= max(2.0 * creep, 1e-3)


def world_to_body(vx_w: float, vy_w: float, yaw: float) -> tuple[float, float]:
    """A velocity in odom rotated into base_link."""
    c, s = math.cos(yaw), math.sin(yaw)
    return c * vx_w + s * vy_w, -s * vx_w + c * vy_w


@dataclass
class Drive:
    """Drive straight from ``start`` to ``goal`` holding ``start``'s heading (forward or backward)."""

    start: Pose2D
    goal: Pose2D
    segment: int
    kind: str = "drive"

    def __post_init__(self) -> None:
        dx, dy = self.goal.x - self.start.x, self.goal.y - self.start.y
        length = math.hypot(dx, dy)
        if length <= 0.0:
            raise ValueError("a drive primitive needs distinct start and goal positions")
        self._ux, self._uy = dx / length, dy / length

    @property
    def z_target(self) -> float:
        """Altitude to hold while driving."""
        return self.goal.z

    def step(self, odom: Odometry, cfg: PrimitiveConfig, decel: float, holonomic: bool) -> tuple[Twist, bool]:
        """Command toward the goal and whether the goal is reached (and the base has slowed down)."""
        pose = odom.pose
        ex, ey = self.goal.x - pose.x, self.goal.y - pose.y
        along = ex * self._ux + ey * self._uy
        # Cross-track error: positive when the robot is left of the line.
        cross = self._ux * (pose.y - self.goal.y) - self._uy * (pose.x - self.goal.x)
        speed_now = math.hypot(odom.twist.vx, odom.twist.vy)
        if abs(along) < cfg.distance_tolerance and settled(speed_now, cfg.min_linear_speed):
            return ZERO, True
        speed = trapezoid_speed(along, cfg.linear_speed, decel * cfg.decel_fraction, cfg.min_linear_speed)
        direction = math.copysign(1.0, along)
        heading_err = wrap_angle(self.start.yaw - pose.yaw)
        if holonomic:
            # Move along the line and push back onto it sideways; the heading is held separately.
            vwx = direction * speed * self._ux + cfg.lateral_gain * cross * self._uy
            vwy = direction * speed * self._uy - cfg.lateral_gain * cross * self._ux
            vx, vy = world_to_body(vwx, vwy, pose.yaw)
            return Twist(vx, vy, 0.0, cfg.heading_gain * heading_err), False
        vx, _ = world_to_body(direction * speed * self._ux, direction * speed * self._uy, pose.yaw)
        # Steer back onto the line: to the right when left of it while moving forward.
        forward = math.copysign(1.0, vx) if vx != 0.0 else 1.0
        wz = cfg.heading_gain * heading_err - forward * cfg.lateral_gain * cross
        return Twist(vx, 0.0, 0.0, wz), False


@dataclass
class Turn:
    """Rotate in place to the absolute yaw ``goal_yaw`` [rad] in odom."""

    goal_yaw: float
    segment: int
    z: float = 0.0
    kind: str = "turn"

    @property
    def z_target(self) -> float:
        """Altitude to hold while turning."""
        return self.z

    def step(self, odom: Odometry, cfg: PrimitiveConfig, decel: float, holonomic: bool) -> tuple[Twist, bool]:
        """Command toward the goal yaw and whether it is reached (and the base has slowed down)."""
        err = wrap_angle(self.goal_yaw - odom.pose.yaw)
        if abs(err) < math.radians(cfg.yaw_tolerance_deg) and settled(odom.twist.wz, cfg.min_angular_speed):
            return ZERO, True
        w = trapezoid_speed(err, cfg.angular_speed, decel * cfg.decel_fraction, cfg.min_angular_speed)
        return Twist(0.0, 0.0, 0.0, math.copysign(w, err)), False


@dataclass
class Climb:
    """Change altitude to ``goal_z`` [m] in odom, holding position and yaw (UAV)."""

    goal_z: float
    segment: int
    kind: str = "climb"

    @property
    def z_target(self) -> float:
        """The altitude this primitive reaches."""
        return self.goal_z

    def step(self, odom: Odometry, cfg: PrimitiveConfig, decel: float, holonomic: bool) -> tuple[Twist, bool]:
        """Vertical command toward the goal altitude and whether it is reached (and slowed down)."""
        err = self.goal_z - odom.pose.z
        if abs(err) < cfg.altitude_tolerance and settled(odom.twist.vz, cfg.min_vertical_speed):
            return ZERO, True
        v = trapezoid_speed(err, cfg.vertical_speed, decel * cfg.decel_fraction, cfg.min_vertical_speed)
        return Twist(0.0, 0.0, math.copysign(v, err), 0.0), False


Primitive = Drive | Turn | Climb


def segment_primitives(poses: tuple[Pose2D, ...], cfg: PrimitiveConfig) -> list[Primitive] | None:
    """Primitives for a plan of discrete actions, or None when a segment is generic (use pursuit)."""
    out: list[Primitive] = []
    yaw_eps = math.radians(cfg.yaw_epsilon_deg)
    match = math.radians(cfg.heading_match_deg)
    for i in range(len(poses) - 1):
        a, b = poses[i], poses[i + 1]
        dxy = math.hypot(b.x - a.x, b.y - a.y)
        dyaw = wrap_angle(b.yaw - a.yaw)
        dz = b.z - a.z
        if dxy < cfg.position_epsilon:
            if abs(dz) >= cfg.position_epsilon:
                out.append(Climb(b.z, i))
            if abs(dyaw) >= yaw_eps:
                out.append(Turn(b.yaw, i, b.z))
            continue
        if abs(dyaw) >= yaw_eps:
            return None
        travel = math.atan2(b.y - a.y, b.x - a.x)
        off = abs(wrap_angle(travel - a.yaw))
        if off > match and abs(math.pi - off) > match:
            return None
        out.append(Drive(a, b, i))
    return out
