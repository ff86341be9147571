"""Plain types of the fast control core: twists, odometry, plans, safety events and outputs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from r1_core import Pose2D


class ZoneAction(StrEnum):
    """What a collision zone (or the obstacle source) says: the values travel in nav_r1/safety."""

    STOP = "stop"
    SLOWDOWN = "slowdown"
    CLEAR = "clear"
    STALE = "stale"  # no fresh obstacle data within timeouts.obstacles_s
    FRESH = "fresh"  # obstacle data again after being stale


class ControlState(StrEnum):
    """Why the loop commands what it commands (nav_r1/control_state's ``state``)."""

    IDLE = "idle"  # no plan yet
    PLAN_STALE = "plan_stale"
    ODOM_STALE = "odom_stale"
    HOLDING = "holding"  # an empty or one-pose plan: stop and hold
    DONE = "done"
    DRIVE = "drive"
    TURN = "turn"
    CLIMB = "climb"
    PURSUIT = "pursuit"
    TELEOP = "teleop"
    LOCKED = "locked"
    INPUT_TIMEOUT = "timeout"  # the winning teleop input went silent: zero for one tick
    OBSTACLES_STALE = "obstacles_stale"
    STOP_ZONE = "stop_zone"
    ERROR = "error"  # the tick raised: zero for this tick


@dataclass(frozen=True)
class Twist:
    """A velocity in base_link: linear ``vx``, ``vy``, ``vz`` [m/s] and yaw rate ``wz`` [rad/s]."""

    vx: float = 0.0
    vy: float = 0.0
    vz: float = 0.0
    wz: float = 0.0

    def __post_init__(self) -> None:
        for name in ("vx", "vy", "vz", "wz"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"Twist.{name} must be finite, got {getattr(self, name)!r}")

    def as_tuple(self) -> tuple[float, float, float, float]:
        """The components as ``(vx, vy, vz, wz)``."""
        return (self.vx, self.vy, self.vz, self.wz)

    def scaled(self, k: float) -> Twist:
        """Every component multiplied by ``k``."""
        return Twist(self.vx * k, self.vy * k, self.vz * k, self.wz * k)

    def is_zero(self) -> bool:
        """True when every component is exactly zero."""
        return self.vx == 0.0 and self.vy == 0.0 and self.vz == 0.0 and self.wz == 0.0


ZERO = Twist()


@dataclass(frozen=True)
class Odometry:
    """The robot's pose in ``odom`` and its velocity in base_link at time ``stamp`` [s]."""

    stamp: float
    pose: Pose2D
    twist: Twist = ZERO


@dataclass(frozen=True)
class Plan:
    """A plan in ``odom``: the pose when it was made, then the pose after each action.

    An empty ``poses`` means stop and hold.
    """

    stamp: float
    poses: tuple[Pose2D, ...]
    plan_id: int = 0


@dataclass(frozen=True)
class SafetyEvent:
    """A collision zone changed state, or the obstacle data went stale / fresh."""

    stamp: float
    zone: str
    action: ZoneAction
    obstacle_distance: float
    points: int

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (infinite distance becomes ``None``)."""
        dist = self.obstacle_distance if math.isfinite(self.obstacle_distance) else None
        return {
            "stamp": self.stamp,
            "zone": self.zone,
            "action": self.action.value,
            "obstacle_distance": dist,
            "points": self.points,
        }


@dataclass(frozen=True)
class Progress:
    """Where the active plan stands: the active segment, how many there are, and whether it is done."""

    plan_id: int = -1
    segment: int = 0
    segments: int = 0
    done: bool = True
    mode: str = "idle"


@dataclass(frozen=True)
class ControlOutput:
    """One control decision: the command, which input won, safety events and the loop state.

    ``slowdown``: a slowdown zone scaled the command; ``timed_out``: the teleop input whose
    timeout gave this tick's zero (state INPUT_TIMEOUT).
    """

    twist: Twist
    source: str
    events: tuple[SafetyEvent, ...] = ()
    state: ControlState = ControlState.IDLE
    progress: Progress = field(default_factory=Progress)
    slowdown: bool = False
    timed_out: str = ""

    @property
    def label(self) -> str:
        """The state as published: ``drive``, ``drive+slowdown``, ``timeout:joy_vel``."""
        if self.state is ControlState.INPUT_TIMEOUT:
            return f"{self.state.value}:{self.timed_out}"
        return f"{self.state.value}+slowdown" if self.slowdown else self.state.value
