"""Time parametrisation of joint-space polylines under per-joint velocity and acceleration limits.

The path is the polyline through the waypoints; its arc length ``s`` is timed with a trapezoidal
speed profile per segment.  Each segment's speed and acceleration caps are the largest that keep
every joint within its limits along that segment's direction; speeds at waypoints come from a
forward and a backward pass (v² ≤ v_prev² + 2·a·L), capped at corners so that the velocity jump
where the direction changes stays within one control period's worth of acceleration.  The result
is sampled densely so a controller can interpolate linearly between points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class TimedTrajectory:
    """Samples of a timed joint trajectory: ``times`` (N,), ``positions`` and ``velocities`` (N, J).

    ``waypoint_times[i]`` is when input waypoint ``i`` is reached.
    """

    times: NDArray[np.float64]
    positions: NDArray[np.float64]
    velocities: NDArray[np.float64]
    waypoint_times: NDArray[np.float64]

    @property
    def duration(self) -> float:
        """Time of the last sample, seconds."""
        return float(self.times[-1])

    def sample(self, t: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Position and velocity at time ``t`` (held at the ends), linearly interpolated."""
        if t <= self.times[0]:
            return self.positions[0].copy(), np.zeros(self.positions.shape[1])
        if t >= self.times[-1]:
            return self.positions[-1].copy(), np.zeros(self.positions.shape[1])
        i = int(np.searchsorted(self.times, t, side="right")) - 1
        a = (t - self.times[i]) / (self.times[i + 1] - self.times[i])
        q = self.positions[i] + a * (self.positions[i + 1] - self.positions[i])
        v = self.velocities[i] + a * (self.velocities[i + 1] - self.velocities[i])
        return q, v


@dataclass(frozen=True)
class _Segment:
    start: NDArray[np.float64]
    unit: NDArray[np.float64]
    length: float
    vmax: float
    amax: float


def _segment_profile(length: float, v0: float, v1: float, vmax: float, a: float) -> tuple[float, float, float, float]:
    """Peak speed and the durations of the accelerate, cruise and decelerate phases."""
    vp = min(vmax, math.sqrt(max(0.0, (2 * a * length + v0 * v0 + v1 * v1) / 2)))
    vp = max(vp, v0, v1)
    d_acc = (vp * vp - v0 * v0) / (2 * a)
    d_dec = (vp * vp - v1 * v1) / (2 * a)
    d_cruise = max(0.0, length - d_acc - d_dec)
    return vp, (vp - v0) / a, d_cruise / vp if vp > 0 else 0.0, (vp - v1) / a


def _distance_at(t: float, v0: float, vp: float, v1: float, a: float, ta: float, tc: float) -> tuple[float, float]:
    """Distance travelled and speed at time ``t`` into a trapezoidal segment."""
    if t <= ta:
        return v0 * t + 0.5 * a * t * t, v0 + a * t
    da = v0 * ta + 0.5 * a * ta * ta
    if t <= ta + tc:
        return da + vp * (t - ta), vp
    td = t - ta - tc
    return da + vp * tc + vp * td - 0.5 * a * td * td, max(v1, vp - a * td)


def _checked(waypoints: NDArray[np.float64], velocity_limits: NDArray[np.float64],
             acceleration_limits: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
    """The inputs as float arrays; ValueError naming what is wrong."""
    q = np.asarray(waypoints, dtype=float)
    vel = np.asarray(velocity_limits, dtype=float)
    acc = np.asarray(acceleration_limits, dtype=float)
    if q.ndim != 2 or len(q) == 0:
        raise ValueError(f"waypoints must be (N, J) with N >= 1, got shape {q.shape}")
    if vel.shape != (q.shape[1],) or acc.shape != (q.shape[1],):
        raise ValueError(f"limits must have {q.shape[1]} entries, got {vel.shape} and {acc.shape}")
    if np.any(vel <= 0) or np.any(acc <= 0):
        raise ValueError("velocity and acceleration limits must be positive")
    if not np.all(np.isfinite(q)):
        raise ValueError("waypoints must be finite")
    return q, vel, acc


def _segments(q: NDArray[np.float64], vel: NDArray[np.float64], acc: NDArray[np.float64]) -> list[_Segment]:
    """The straight joint-space segments between distinct waypoints, with their speed and acceleration caps."""
    segs: list[_Segment] = []
    for i in range(len(q) - 1):
        d = q[i + 1] - q[i]
        length = float(np.linalg.norm(d))
        u = d / length
        mag = np.abs(u)
        nz = mag > 1e-12
        segs.append(_Segment(q[i], u, length, float(np.min(vel[nz] / mag[nz])), float(np.min(acc[nz] / mag[nz]))))
    return segs


def _waypoint_speeds(segs: list[_Segment], acc: NDArray[np.float64], corner_dt: float) -> NDArray[np.float64]:
    """The path speed at each waypoint: zero at both ends, capped at corners, reachable both ways."""
    n = len(segs) + 1
    # Speed caps at the interior waypoints: both neighbours' cruise caps and the corner jump.
    cap = np.zeros(n)
    for i in range(1, n - 1):
        jump = np.abs(segs[i].unit - segs[i - 1].unit)
        nz = jump > 1e-12
        corner = float(np.min(acc[nz] * corner_dt / jump[nz])) if np.any(nz) else math.inf
        cap[i] = min(segs[i - 1].vmax, segs[i].vmax, corner)
    v = cap.copy()
    for i in range(1, n):  # forward: what can be reached by accelerating
        v[i] = min(v[i], math.sqrt(v[i - 1] ** 2 + 2 * segs[i - 1].amax * segs[i - 1].length))
    for i in range(n - 2, -1, -1):  # backward: what can still be stopped in time
        v[i] = min(v[i], math.sqrt(v[i + 1] ** 2 + 2 * segs[i].amax * segs[i].length))
    return v


def time_parametrize(
    waypoints: NDArray[np.float64],
    velocity_limits: NDArray[np.float64],
    acceleration_limits: NDArray[np.float64],
    *,
    sample_dt: float = 0.02,
    corner_dt: float = 0.02,
) -> TimedTrajectory:
    """Time the polyline through ``waypoints`` (N, J), starting and ending at rest."""
    q, vel, acc = _checked(waypoints, velocity_limits, acceleration_limits)
    # Repeated waypoints are dropped; ``owner[i]`` is the kept waypoint input waypoint i maps to.
    keep = [0] + [i for i in range(1, len(q)) if np.max(np.abs(q[i] - q[i - 1])) > 1e-9]
    owner = np.searchsorted(np.array(keep), np.arange(len(q)), side="right") - 1
    q = q[keep]
    if len(q) == 1:
        z = np.zeros_like(q)
        return TimedTrajectory(np.zeros(1), q.copy(), z, np.zeros(len(owner)))
    segs = _segments(q, vel, acc)
    v = _waypoint_speeds(segs, acc, corner_dt)
    times, positions, velocities = [0.0], [q[0]], [np.zeros(q.shape[1])]
    wp_times = [0.0]
    t0 = 0.0
    for i, seg in enumerate(segs):
        vp, ta, tc, td = _segment_profile(seg.length, v[i], v[i + 1], seg.vmax, seg.amax)
        total = ta + tc + td
        n = max(1, math.ceil(total / sample_dt))
        for k in range(1, n + 1):
            t = total * k / n
            s, sd = _distance_at(t, v[i], vp, v[i + 1], seg.amax, ta, tc)
            s = min(s, seg.length)
            times.append(t0 + t)
            positions.append(seg.start + seg.unit * s)
            velocities.append(seg.unit * sd)
        positions[-1] = q[i + 1]  # land exactly on the waypoint
        t0 += total
        wp_times.append(t0)
    velocities[-1] = np.zeros(q.shape[1])
    return TimedTrajectory(np.array(times), np.array(positions), np.array(velocities), np.array(wp_times)[owner])
