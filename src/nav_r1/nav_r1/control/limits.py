"""Velocity clamping and acceleration limiting (Nav2 velocity-smoother semantics, open loop)."""

from __future__ import annotations

import math

from nav_r1.control.config import LimitsConfig
from nav_r1.control.types import ZERO, Twist


def _clamp(v: float, lo: float, hi: float) -> float:
    return lo if v < lo else hi if v > hi else v


def _approach(current: float, target: float, accel: float, decel: float, dt: float) -> float:
    """Move ``current`` toward ``target``, accelerating at most ``accel`` and braking at most ``decel``."""
    # Braking is any change that reduces |v| toward zero; crossing zero brakes first, then accelerates.
    if current * target < 0.0 or abs(target) < abs(current):
        step = decel * dt
        if current * target < 0.0 and abs(current) > step:
            return current - math.copysign(step, current)
        if current * target < 0.0:
            # Through zero this tick: spend the rest of the tick accelerating the other way.
            rest = dt - abs(current) / decel
            return _clamp(target, -accel * rest, accel * rest)
        return target if abs(current - target) <= step else current - math.copysign(step, current - target)
    step = accel * dt
    return target if abs(target - current) <= step else current + math.copysign(step, target - current)


class VelocityLimiter:
    """Clamps each axis to its limits and bounds the change per tick; remembers the last output."""

    def __init__(self, limits: LimitsConfig, *, planar: bool, holonomic: bool) -> None:
        self._lim = limits
        self._max_vy = limits.max_vy if holonomic else 0.0
        self._max_vz = 0.0 if planar else limits.max_vz
        self.last = ZERO

    def clamp(self, t: Twist) -> Twist:
        """The twist with every axis inside its velocity limit."""
        lim = self._lim
        return Twist(
            _clamp(t.vx, lim.min_vx, lim.max_vx),
            _clamp(t.vy, -self._max_vy, self._max_vy),
            _clamp(t.vz, -self._max_vz, self._max_vz),
            _clamp(t.wz, -lim.max_wz, lim.max_wz),
        )

    def limit(self, target: Twist, dt: float) -> Twist:
        """Clamp ``target`` and move the last output toward it within the acceleration limits."""
        lim = self._lim
        t = self.clamp(target)
        if dt <= 0.0:
            return self.last
        cur = self.last
        out = Twist(
            _approach(cur.vx, t.vx, lim.max_linear_accel, lim.max_linear_decel, dt),
            _approach(cur.vy, t.vy, lim.max_linear_accel, lim.max_linear_decel, dt),
            _approach(cur.vz, t.vz, lim.max_vertical_accel, lim.max_vertical_accel, dt),
            _approach(cur.wz, t.wz, lim.max_angular_accel, lim.max_angular_decel, dt),
        )
        self.last = out
        return out

    def hard_stop(self) -> Twist:
        """Zero at once (locks, stop zones, a timed-out teleop input); the next ramp starts from zero."""
        self.last = ZERO
        return ZERO
