"""Parameters of the fast control node, declared once (type, default, bounds, description).

Every field becomes a ROS parameter with a dotted name (``limits.max_vx``, ``zones.stop.points``).
Lists that describe several items (mux inputs, locks) are parallel lists of equal length, the form
twist_mux's users know from its YAML files, because ROS parameters cannot hold lists of structs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from r1_core import topics
from r1_core.params import ParamError, nested, param, validate_params
from r1_core.registry import Registry
from r1_core.robots import MOBILE_ROBOTS

# A 0.5 m x 0.4 m base (the WHEELTEC R550 class) with a 5 cm margin, and a slowdown zone ahead.
_WHEELED_STOP = (0.35, 0.25, 0.35, -0.25, -0.30, -0.25, -0.30, 0.25)
_WHEELED_SLOW = (0.80, 0.35, 0.80, -0.35, -0.30, -0.35, -0.30, 0.35)


def _polygon_ok(name: str, points: tuple[float, ...]) -> None:
    if len(points) % 2 != 0 or len(points) < 6:
        raise ParamError(
            f"parameter '{name}' must be a flat list x1, y1, x2, y2, ... of at least 3 vertices, "
            f"got {len(points)} numbers"
        )


@dataclass(frozen=True)
class LimitsConfig:
    """Velocity and acceleration limits applied to every command that leaves the node."""

    # Forward speed limit; reverse is bounded by min_vx.
    max_vx: float = param(0.5, "Largest forward speed [m/s]", min=0.0, max=20.0)
    min_vx: float = param(-0.2, "Largest reverse speed, as a non-positive number [m/s]", min=-20.0, max=0.0)
    max_vy: float = param(0.0, "Largest sideways speed (0 for a non-holonomic base) [m/s]", min=0.0, max=20.0)
    max_vz: float = param(0.0, "Largest vertical speed (UAV profile only) [m/s]", min=0.0, max=20.0)
    max_wz: float = param(1.0, "Largest yaw rate [rad/s]", min=0.0, max=20.0)
    # Separate accel/decel as in Nav2's velocity smoother: braking may be harder than speeding up.
    max_linear_accel: float = param(0.8, "Horizontal acceleration limit [m/s^2]", min=0.01, max=50.0)
    max_linear_decel: float = param(1.2, "Horizontal deceleration limit [m/s^2]", min=0.01, max=50.0)
    max_vertical_accel: float = param(0.5, "Vertical acceleration and deceleration limit [m/s^2]", min=0.01, max=50.0)
    max_angular_accel: float = param(2.0, "Yaw acceleration limit [rad/s^2]", min=0.01, max=100.0)
    max_angular_decel: float = param(3.0, "Yaw deceleration limit [rad/s^2]", min=0.01, max=100.0)

    def __post_init__(self) -> None:
        validate_params(self)


@dataclass(frozen=True)
class PrimitiveConfig:
    """Motion primitives (drive, turn, climb): trapezoidal profiles closed on odometry."""

    linear_speed: float = param(0.3, "Cruise speed of a drive primitive [m/s]", min=0.01, max=20.0)
    angular_speed: float = param(0.8, "Cruise yaw rate of a turn primitive [rad/s]", min=0.01, max=20.0)
    vertical_speed: float = param(0.3, "Cruise speed of a climb primitive [m/s]", min=0.01, max=20.0)
    # A floor under the profile so the last millimetres do not take seconds (odometry is noisy).
    min_linear_speed: float = param(0.03, "Creep speed near a drive target [m/s]", min=0.0, max=1.0)
    min_angular_speed: float = param(0.08, "Creep yaw rate near a turn target [rad/s]", min=0.0, max=2.0)
    min_vertical_speed: float = param(0.03, "Creep speed near a climb target [m/s]", min=0.0, max=1.0)
    distance_tolerance: float = param(0.01, "A drive ends this close to its target [m]", min=0.001, max=1.0)
    yaw_tolerance_deg: float = param(1.0, "A turn ends this close to its target [deg]", min=0.05, max=30.0)
    altitude_tolerance: float = param(0.02, "A climb ends this close to its target [m]", min=0.001, max=1.0)
    # The profile brakes below the smoother's limit so the limiter never clips the ramp down.
    decel_fraction: float = param(0.8, "Share of the decel limit the profile plans with", min=0.1, max=1.0)
    heading_gain: float = param(2.0, "Yaw-rate gain holding the heading while driving [1/s]", min=0.0, max=50.0)
    lateral_gain: float = param(2.0, "Gain on cross-track error while driving [1/s]", min=0.0, max=50.0)
    position_epsilon: float = param(0.01, "Poses closer than this are the same place [m]", min=0.0001, max=1.0)
    yaw_epsilon_deg: float = param(1.0, "Yaw changes below this are no turn [deg]", min=0.01, max=30.0)
    heading_match_deg: float = param(
        10.0, "A segment is a drive if it points along the pose yaw within this [deg]", min=0.1, max=90.0
    )

    def __post_init__(self) -> None:
        validate_params(self)


@dataclass(frozen=True)
class PursuitConfig:
    """Regulated pure pursuit for generic paths (Nav2's regulated_pure_pursuit semantics)."""

    desired_linear_speed: float = param(0.4, "Cruise speed on a generic path [m/s]", min=0.01, max=20.0)
    lookahead_time: float = param(1.5, "Lookahead = speed x this time [s]", min=0.0, max=10.0)
    min_lookahead: float = param(0.3, "Smallest lookahead distance [m]", min=0.01, max=10.0)
    max_lookahead: float = param(0.9, "Largest lookahead distance [m]", min=0.01, max=20.0)
    regulated_min_radius: float = param(0.9, "Below this turning radius speed is scaled down [m]", min=0.0, max=20.0)
    approach_distance: float = param(0.6, "Speed scales down within this distance of the goal [m]", min=0.0, max=10.0)
    min_approach_speed: float = param(0.05, "Floor of the approach slowdown [m/s]", min=0.0, max=5.0)
    goal_tolerance: float = param(0.05, "The path ends this close to its last pose [m]", min=0.001, max=2.0)
    rotate_to_heading_deg: float = param(
        45.0, "Rotate in place first when the path direction is this far off [deg]", min=0.0, max=180.0
    )
    rotate_to_goal_heading: bool = param(True, "Turn to the last pose's yaw after reaching it")

    def __post_init__(self) -> None:
        validate_params(self)
        if self.max_lookahead < self.min_lookahead:
            raise ParamError("parameter 'pursuit.max_lookahead' must be >= 'pursuit.min_lookahead'")


@dataclass(frozen=True)
class TimeoutConfig:
    """Every input can go stale; the safe action on expiry is to decelerate to zero."""

    plan_s: float = param(10.0, "A plan older than this (since arrival) is dropped [s]", min=0.01, max=3600.0)
    odom_s: float = param(0.2, "Odometry older than this stops navigation [s]", min=0.001, max=60.0)
    obstacles_s: float = param(
        0.5, "Obstacle data older than this stops every motion; 0 = no obstacle source required [s]",
        min=0.0, max=60.0,
    )

    def __post_init__(self) -> None:
        validate_params(self)


@dataclass(frozen=True)
class MuxConfig:
    """twist_mux semantics: velocity inputs by priority with timeouts, Bool locks masking lower ones."""

    input_names: tuple[str, ...] = param((topics.JOY_VEL, topics.KEY_VEL), "Names of the teleop inputs")
    input_topics: tuple[str, ...] = param((topics.JOY_VEL, topics.KEY_VEL), "Topic of each teleop input")
    input_priorities: tuple[int, ...] = param((100, 90), "Priority of each input (higher wins)", min=0, max=255)
    input_timeouts: tuple[float, ...] = param((0.5, 0.5), "Timeout of each input [s]", min=0.001, max=60.0)
    navigation_priority: int = param(10, "Priority of the plan-following command", min=0, max=255)
    lock_names: tuple[str, ...] = param((topics.E_STOP,), "Names of the std_msgs/Bool locks")
    lock_topics: tuple[str, ...] = param((topics.E_STOP,), "Topic of each lock")
    lock_priorities: tuple[int, ...] = param((255,), "A lock masks inputs of this priority and below", min=0, max=255)
    lock_timeouts: tuple[float, ...] = param(
        (0.0,), "A lock also engages when silent this long; 0 = only when true [s]", min=0.0, max=60.0
    )

    def __post_init__(self) -> None:
        validate_params(self)
        n = len(self.input_names)
        for name in ("input_topics", "input_priorities", "input_timeouts"):
            if len(getattr(self, name)) != n:
                raise ParamError(f"parameter 'mux.{name}' must have one entry per mux.input_names ({n})")
        m = len(self.lock_names)
        for name in ("lock_topics", "lock_priorities", "lock_timeouts"):
            if len(getattr(self, name)) != m:
                raise ParamError(f"parameter 'mux.{name}' must have one entry per mux.lock_names ({m})")
        names = [*self.input_names, "navigation", *self.lock_names]
        if len(set(names)) != len(names):
            raise ParamError(f"mux input and lock names must be unique, got {names}")


@dataclass(frozen=True)
class StopZoneConfig:
    """A Nav2 collision-monitor stop polygon in base_link: enough points inside -> zero velocity."""

    enabled: bool = param(True, "Check this zone")
    points: tuple[float, ...] = param(_WHEELED_STOP, "Polygon x1, y1, x2, y2, ... in base_link [m]")
    min_points: int = param(4, "Points needed inside to trigger (Nav2 min_points)", min=1, max=1_000_000)

    def __post_init__(self) -> None:
        validate_params(self)
        _polygon_ok("zones.stop.points", self.points)


@dataclass(frozen=True)
class SlowdownZoneConfig:
    """A Nav2 collision-monitor slowdown polygon: enough points inside -> velocity x ratio."""

    enabled: bool = param(True, "Check this zone")
    points: tuple[float, ...] = param(_WHEELED_SLOW, "Polygon x1, y1, x2, y2, ... in base_link [m]")
    min_points: int = param(4, "Points needed inside to trigger (Nav2 min_points)", min=1, max=1_000_000)
    slowdown_ratio: float = param(0.3, "Velocity scale inside the zone", min=0.0, max=1.0)

    def __post_init__(self) -> None:
        validate_params(self)
        _polygon_ok("zones.slowdown.points", self.points)


@dataclass(frozen=True)
class ZonesConfig:
    """Collision zones; when several trigger, the most aggressive action wins."""

    stop: StopZoneConfig = nested(StopZoneConfig, "Stop zone")
    slowdown: SlowdownZoneConfig = nested(SlowdownZoneConfig, "Slowdown zone")


@dataclass(frozen=True)
class DepthConfig:
    """Projection of a depth image into base_link obstacle points."""

    stride: int = param(4, "Use every n-th pixel in each direction", min=1, max=64)
    min_range: float = param(0.1, "Depths below this are dropped [m]", min=0.0, max=100.0)
    max_range: float = param(4.0, "Depths above this are dropped [m]", min=0.01, max=1000.0)
    # The camera body frame (REP-103: x forward, z up), not the optical frame; the optical
    # rotation is applied by the projector.
    base_T_camera: tuple[float, ...] = param(  # noqa: N815 (frame-pair notation, as in the docs)
        (0.2, 0.0, 0.3, 0.0, 0.0, 0.0), "Camera pose in base_link: x, y, z [m], roll, pitch, yaw [rad]"
    )
    min_height: float = param(0.05, "Points below this z in base_link are floor [m]", min=-100.0, max=100.0)
    max_height: float = param(1.5, "Points above this z in base_link are ceiling [m]", min=-100.0, max=100.0)
    # Only for the start-up visibility check (the projection uses camera_info); a RealSense D435's
    # depth field of view.
    hfov_deg: float = param(87.0, "Horizontal field of view, for the visibility check [deg]", min=1.0, max=179.0)
    vfov_deg: float = param(58.0, "Vertical field of view, for the visibility check [deg]", min=1.0, max=179.0)
    # A 30 Hz depth frame plus one 100 Hz tick.
    reaction_s: float = param(0.05, "Obstacle-to-zero-command time the visibility check assumes [s]",
                              min=0.0, max=5.0)

    def __post_init__(self) -> None:
        validate_params(self)
        if len(self.base_T_camera) != 6:
            raise ParamError("parameter 'depth.base_T_camera' must be x, y, z, roll, pitch, yaw")
        if self.max_range <= self.min_range:
            raise ParamError("parameter 'depth.max_range' must be above 'depth.min_range'")
        if self.max_height <= self.min_height:
            raise ParamError("parameter 'depth.max_height' must be above 'depth.min_height'")


@dataclass(frozen=True)
class InputsConfig:
    """Bounds on what the node accepts: a message outside them is rejected whole, never used."""

    # 100 km: far beyond any odometry frame a robot keeps, far below where float math breaks
    # (1e308 positions made the pursuit's twist non-finite and killed the loop).
    max_position_m: float = param(1.0e5, "Odometry and plan positions (x, y, z) beyond this are rejected [m]",
                                  min=1.0, max=1.0e9)
    max_speed: float = param(100.0, "Odometry velocities beyond this are rejected [m/s, rad/s]", min=0.1, max=1.0e6)
    # The reasoning node sends a handful of poses; a Nav2 path a few hundred. Bigger plans are
    # rejected from the message's length field, before a single pose is converted.
    max_plan_poses: int = param(2000, "Plans with more poses are rejected", min=2, max=1_000_000)

    def __post_init__(self) -> None:
        validate_params(self)


@dataclass(frozen=True)
class MemoryConfig:
    """Short-term obstacle memory: what the camera stops seeing (too close, out of view) still counts."""

    enabled: bool = param(True, "Remember obstacle points in the odometry frame")
    # Long enough to cover a stop in front of a wall the camera is too close to see; a remembered
    # point also goes once the camera measures a valid depth at its pixel (it sees there again)
    # or it leaves the zones' box (the robot moved away).
    hold_s: float = param(5.0, "A remembered point is forgotten this long after it was last seen [s]",
                          min=0.0, max=600.0)
    voxel_m: float = param(0.02, "Remembered points are thinned to one per cell of this size [m]",
                           min=0.001, max=1.0)
    max_points: int = param(20000, "Most points remembered (the oldest go first)", min=1, max=10_000_000)
    blind_valid_fraction: float = param(
        0.02, "A frame with fewer valid pixels than this share, right after an obstacle in the zones' box, is "
        "'too close to see': the remembered points are held (not aged) until the camera sees again",
        min=0.0, max=1.0)

    def __post_init__(self) -> None:
        validate_params(self)


@dataclass(frozen=True)
class ControlConfig:
    """Everything the fast control core and node need."""

    rate_hz: float = param(100.0, "Control loop rate [Hz]", min=1.0, max=1000.0)
    output_stamped: bool = param(True, "Publish geometry_msgs/TwistStamped (Kilted) instead of Twist")
    profile: str = param("planar", "Robot kind: planar (wheeled, legged) or uav", choices=("planar", "uav"))
    holonomic: bool = param(False, "The base can move sideways (uses vy to hold the line)")
    altitude_gain: float = param(1.0, "UAV altitude-hold gain [1/s]", min=0.0, max=50.0)
    limits: LimitsConfig = nested(LimitsConfig, "Velocity and acceleration limits")
    primitives: PrimitiveConfig = nested(PrimitiveConfig, "Motion primitives")
    pursuit: PursuitConfig = nested(PursuitConfig, "Regulated pure pursuit")
    timeouts: TimeoutConfig = nested(TimeoutConfig, "Input timeouts")
    mux: MuxConfig = nested(MuxConfig, "Velocity multiplexer")
    zones: ZonesConfig = nested(ZonesConfig, "Collision zones")
    depth: DepthConfig = nested(DepthConfig, "Depth projection")
    inputs: InputsConfig = nested(InputsConfig, "Input bounds")
    memory: MemoryConfig = nested(MemoryConfig, "Obstacle memory")

    def __post_init__(self) -> None:
        validate_params(self)
        if self.holonomic and self.limits.max_vy <= 0.0:
            raise ParamError("parameter 'holonomic' needs 'limits.max_vy' > 0")
        if self.profile == "uav" and self.limits.max_vz <= 0.0:
            raise ParamError("profile 'uav' needs 'limits.max_vz' > 0")

    @property
    def period_s(self) -> float:
        """The control period [s]."""
        return 1.0 / self.rate_hz

    @classmethod
    def for_profile(cls, name: str) -> ControlConfig:
        """The preset of a navigating robot of ``r1_core.robots`` (``dog``, ``uav``, ``wheeled``)."""
        return PRESETS.get(name)()


# The presets keep the stop zone visible (nav_r1.control.visibility): the camera must still see
# an obstacle that entered the stop zone after the robot braked from max_vx, and the stop zone
# cannot reach past the clearance the simulator's planner keeps (robot radius). The dog's camera
# sits 2.5 cm behind its nose, so no speed it can walk at passes; it relies on the obstacle memory
# and the start-up check warns.


def _wheeled() -> ControlConfig:
    # The URDF's camera (0.175 m ahead, 0.36 m up) sees from x = 0.275 m: 0.095 m of a stop zone
    # reaching 0.37 m, enough to stop from 0.4 m/s (0.087 m at 1.2 m/s^2 and 50 ms reaction).
    r = dataclasses.replace
    c = ControlConfig()
    stop = (0.37, 0.25, 0.37, -0.25, -0.30, -0.25, -0.30, 0.25)
    return r(
        c,
        limits=r(c.limits, max_vx=0.4),
        zones=ZonesConfig(r(c.zones.stop, points=stop), c.zones.slowdown),
        depth=r(c.depth, base_T_camera=(0.175, 0.05, 0.36, 0.0, 0.0, 0.0)),
    )


def _dog() -> ControlConfig:
    # A quadruped the size of a Unitree Go2 (0.70 m x 0.31 m): strafes, brakes less hard.
    r = dataclasses.replace
    c = ControlConfig()
    stop = (0.45, 0.22, 0.45, -0.22, -0.40, -0.22, -0.40, 0.22)
    slow = (0.95, 0.30, 0.95, -0.30, -0.40, -0.30, -0.40, 0.30)
    return r(
        c,
        holonomic=True,
        limits=r(c.limits, max_vx=0.8, max_vy=0.3, max_wz=1.2, max_linear_accel=1.0, max_linear_decel=1.0),
        zones=ZonesConfig(r(c.zones.stop, points=stop), r(c.zones.slowdown, points=slow)),
        depth=r(c.depth, base_T_camera=(0.30, 0.0, 0.10, 0.0, 0.0, 0.0), min_height=0.05, max_height=0.6),
    )


def _uav() -> ControlConfig:
    # A small quadrotor: holonomic, vertical axis, obstacles above and below the body count too.
    r = dataclasses.replace
    c = ControlConfig()
    # The stop zone stays inside the clearance the planner keeps (0.35 m for the simulated UAV):
    # a zone reaching past it stops the drone short of goals next to furniture, and the expert
    # then asks for the same blocked step forever.
    # Its camera sees from x = 0.20 m; stopping from 0.45 m/s takes 0.11 m.
    stop = (0.34, 0.30, 0.34, -0.30, -0.32, -0.30, -0.32, 0.30)
    slow = (1.20, 0.60, 1.20, -0.60, -0.50, -0.60, -0.50, 0.60)
    return r(
        c,
        profile="uav",
        holonomic=True,
        limits=r(c.limits, max_vx=0.45, max_vy=0.5, max_vz=0.5, max_wz=1.0, min_vx=-0.5),
        zones=ZonesConfig(r(c.zones.stop, points=stop), r(c.zones.slowdown, points=slow)),
        depth=r(c.depth, base_T_camera=(0.10, 0.0, 0.0, 0.0, 0.0, 0.0), min_height=-0.3, max_height=0.3),
    )


_MAKERS: dict[str, Callable[[], ControlConfig]] = {"wheeled": _wheeled, "dog": _dog, "uav": _uav}

#: One preset per navigating robot, keyed by ``r1_core.robots.MOBILE_ROBOTS``: a robot added there
#: without a preset here fails at import, not when someone first drives it.
PRESETS: Registry[Callable[[], ControlConfig]] = Registry(
    "control profile", [(name, _MAKERS[name]) for name in MOBILE_ROBOTS])
