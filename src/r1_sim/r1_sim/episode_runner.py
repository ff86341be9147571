"""The rules of a simulated episode, without ROS and without a clock: shared by the bridge and the rollout.

:class:`EpisodeRun` follows one episode tick by tick (trajectory samples, the reasoner's stop, the
settle after it, the time limit) and produces the raw :class:`EpisodeOutcome`; :class:`Pacer` holds
a free-running loop to ``rate_factor`` times real time; :class:`ActionController` is what executes
a reply's discrete actions in the in-process rollout (:class:`PController` here; nav_r1 injects its
real control core through the same protocol, see ``nav_r1.sim_control``).

Time is always passed in, so the bridge (lock-step or free-running) and the rollout run the same
rules, and a test can drive them with made-up numbers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from r1_core.geometry import wrap_angle
from r1_core.nav.actions import Action
from r1_core.reasoner import Pose2D
from r1_sim.robots import PROFILES, RobotProfile

Velocity = tuple[float, float, float, float]  # vx, vy, vz [m/s], wz [rad/s] in base_link
ZERO: Velocity = (0.0, 0.0, 0.0, 0.0)

#: After the stop the robot counts as at rest once every velocity component is below this
#: [m/s, rad/s]. Derived from the profiles (see :func:`settle_residual_m`): from this speed a base
#: still travels at most v * tau (actuator lag) + v^2 / (2 * max_accel) < 4 mm, far below the
#: 1 m success radius and the centimetre resolution of the reported navigation error, so ending
#: the episode here instead of at exact rest changes no metric; a lower threshold only costs ticks
#: (the lagged actuator approaches zero exponentially).
SETTLE_SPEED = 0.02


def settle_residual_m(profile: RobotProfile, speed: float = SETTLE_SPEED) -> float:
    """An upper bound of the distance a robot still covers once all its speeds are below ``speed``."""
    return speed * profile.tau + speed * speed / (2.0 * profile.max_accel)


class Body(Protocol):
    """What the rules read of the simulated robot (a :class:`~r1_sim.world.SimBackend` is one)."""

    def pose(self) -> Pose2D: ...

    def twist(self) -> Velocity: ...


@dataclass(frozen=True)
class EpisodeRules:
    """When an episode ends and how densely its trajectory is kept."""

    #: Simulated time after which the episode ends unfinished [s].
    timeout_s: float
    #: After the stop, wait at most this long for the robot to come to rest [s].
    settle_timeout_s: float
    #: At rest: every velocity component below this [m/s, rad/s] (see SETTLE_SPEED).
    settle_speed: float = SETTLE_SPEED
    #: Keep one trajectory row every this many ticks (the final pose is always kept).
    sample_every: int = 5

    def __post_init__(self) -> None:
        for name in ("timeout_s", "settle_timeout_s", "settle_speed"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0.0:
                raise ValueError(f"EpisodeRules.{name} must be a finite number >= 0, got {value!r}")
        if self.sample_every < 1:
            raise ValueError(f"EpisodeRules.sample_every must be >= 1, got {self.sample_every}")


@dataclass(frozen=True)
class EpisodeOutcome:
    """The raw result of one episode (metrics are computed from it by the caller)."""

    #: Rows of t (since the start) [s], x, y, z [m], yaw [rad].
    trajectory: list[list[float]]
    called_stop: bool
    ticks: int
    sim_time_s: float


@dataclass
class EpisodeRun:
    """One episode's rules, fed one tick at a time; not thread-safe (the simulation thread owns it)."""

    rules: EpisodeRules
    t0: float
    trajectory: list[list[float]] = field(default_factory=list)
    ticks: int = 0
    stop_at: float | None = None

    @property
    def called_stop(self) -> bool:
        """Whether the reasoner said stop during this episode."""
        return self.stop_at is not None

    def sample(self, t: float, body: Body) -> None:
        """Append the pose at time ``t`` to the trajectory."""
        p = body.pose()
        self.trajectory.append([round(t - self.t0, 4), p.x, p.y, p.z, p.yaw])

    def after_tick(self, t: float, body: Body, stop_said: bool) -> bool:
        """Account for one simulated tick ending at ``t``; True when the episode is over."""
        self.ticks += 1
        if self.ticks % self.rules.sample_every == 0:
            self.sample(t, body)
        if stop_said and self.stop_at is None:
            self.stop_at = t
        if self.stop_at is not None:
            speed = max(abs(v) for v in body.twist())
            if speed < self.rules.settle_speed or t - self.stop_at > self.rules.settle_timeout_s:
                return True
        return t - self.t0 >= self.rules.timeout_s

    def finish(self, t: float, body: Body) -> EpisodeOutcome:
        """The outcome, with the final pose as the last trajectory row."""
        self.sample(t, body)
        return EpisodeOutcome(self.trajectory, self.called_stop, self.ticks, round(t - self.t0, 4))


class Pacer:
    """Holds a free-running loop to ``rate_factor`` times real time (sleeps while simulation is ahead)."""

    def __init__(self, rate_factor: float, t0: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not math.isfinite(rate_factor) or rate_factor <= 0.0:
            raise ValueError(f"rate_factor must be a positive number, got {rate_factor!r}")
        self.rate_factor, self.t0 = rate_factor, t0
        self._clock, self._sleep = clock, sleep
        self.wall0 = clock()

    def wait(self, t: float) -> None:
        """Sleep until the wall clock has caught up with simulated time ``t``."""
        lag = (t - self.t0) / self.rate_factor - (self._clock() - self.wall0)
        if lag > 0:
            self._sleep(lag)


class ActionController(Protocol):
    """Executes one reply's discrete actions against odometry; time is passed in, no clock inside."""

    def start(self, actions: Sequence[Action], pose: Pose2D, now: float) -> None:
        """Begin executing ``actions`` (none of them ``stop``) from ``pose`` at time ``now``."""
        ...

    def command(self, pose: Pose2D, twist: Velocity, now: float) -> Velocity | None:
        """The velocity command for this tick, or None once every action is done."""
        ...


class PController:
    """One action at a time with proportional gains on the pose error, within the robot's limits.

    Deliberately simple (a reference the real control core is compared with); an action ends when
    its target is within 2 cm and 2 degrees, or after ``max_action_s``.
    """

    def __init__(self, profile: RobotProfile | str, max_action_s: float = 6.0) -> None:
        self.profile = PROFILES[profile] if isinstance(profile, str) else profile
        self.max_action_s = max_action_s
        self._queue: list[Action] = []
        self._target: tuple[float, float, float, float] | None = None  # x, y, z, yaw
        self._t_end = 0.0

    def start(self, actions: Sequence[Action], pose: Pose2D, now: float) -> None:
        """Queue the actions; each one's target is set from the pose when it begins."""
        self._queue = list(actions)
        self._target = None

    def _begin(self, action: Action, pose: Pose2D, now: float) -> tuple[float, float, float, float]:
        forward = action.value if action.kind == "forward" else 0.0
        self._t_end = now + self.max_action_s
        self._target = (pose.x + forward * math.cos(pose.yaw), pose.y + forward * math.sin(pose.yaw),
                        pose.z + {"up": action.value, "down": -action.value}.get(action.kind, 0.0),
                        wrap_angle(pose.yaw + action.yaw_rad))
        return self._target

    def command(self, pose: Pose2D, twist: Velocity, now: float) -> Velocity | None:
        """The command toward the current target; the next action begins when one is reached."""
        p = self.profile
        while True:
            target = self._target
            if target is None:
                if not self._queue:
                    return None
                target = self._begin(self._queue.pop(0), pose, now)
            if now >= self._t_end:
                self._target = None
                continue
            tx, ty, tz, tyaw = target
            c, s = math.cos(pose.yaw), math.sin(pose.yaw)
            ex, ey = tx - pose.x, ty - pose.y
            bx, by = c * ex + s * ey, -s * ex + c * ey  # position error in the body frame
            eyaw = wrap_angle(tyaw - pose.yaw)
            ez = tz - pose.z if p.flies else 0.0
            if math.hypot(bx, by) < 0.02 and abs(eyaw) < math.radians(2.0) and abs(ez) < 0.02:
                self._target = None
                continue
            return (float(np.clip(2.0 * bx, -0.6 * p.max_vx, 0.6 * p.max_vx)),
                    float(np.clip(2.0 * by, -0.6 * p.max_vy, 0.6 * p.max_vy)),
                    float(np.clip(2.0 * ez, -0.8 * p.max_vz, 0.8 * p.max_vz)),
                    float(np.clip(3.0 * eyaw, -0.8 * p.max_wz, 0.8 * p.max_wz)))


__all__ = ["SETTLE_SPEED", "ZERO", "ActionController", "Body", "EpisodeOutcome", "EpisodeRules", "EpisodeRun",
           "PController", "Pacer", "Velocity", "settle_residual_m"]
