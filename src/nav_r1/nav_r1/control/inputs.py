"""The one input layer between messages and the control core: the node, the obstacle node and the
offline replay all use it, so a bag's verdict is the robot's verdict.

No rclpy here: messages are read by field name (rclpy's and rosbags' messages have the same
fields), time is passed in, and every bad message raises :class:`InputRejectedError` naming the bad
field before anything reaches the core. Pieces:

- :func:`odometry_from`, :func:`twist_from`, :class:`PlanIntake`: conversions with bounds (finite,
  within ``inputs.max_position_m``, unit-able quaternions, at most ``inputs.max_plan_poses``);
- :class:`ObstacleSource`: a Nav2 collision-monitor ``Source``: depth frames (projector, the zones'
  box as region of interest, height filter, the obstacle memory, "too close to see") or point clouds
  into base_link obstacle points;
- :class:`FreeRun` / :class:`LockStep`: when an input takes effect (at once, or at the simulator
  tick that announces it);
- :class:`ControlInputs`: all of it around one :class:`~nav_r1.control.controller.FastController`.
"""

from __future__ import annotations

import contextlib
import math
import struct
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from nav_r1.control.config import ControlConfig, InputsConfig
from nav_r1.control.controller import FastController
from nav_r1.control.depth import DepthProjector, base_from_optical
from nav_r1.control.memory import ObstacleMemory
from nav_r1.control.safety import ZoneChecker
from nav_r1.control.types import ZERO, ControlOutput, ControlState, Odometry, Plan, Twist
from r1_core import topics
from r1_core.reasoner import Pose2D
from r1_core.ros.convert import camera_info_to_matrix, cloud_to_xyz, depth_image_to_metres


class InputRejectedError(ValueError):
    """A message the control core must not see; the text names the field."""


def _stamp(stamp: Any) -> float:
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def _position(where: str, p: Any, bound: float) -> tuple[float, float, float]:
    x, y, z = float(p.x), float(p.y), float(p.z)
    for axis, v in (("x", x), ("y", y), ("z", z)):
        if not math.isfinite(v) or abs(v) > bound:
            raise InputRejectedError(f"{where}.position.{axis} = {v!r} is not finite or beyond "
                                f"inputs.max_position_m ({bound:g} m)")
    return x, y, z


def yaw_of(where: str, q: Any) -> float:
    """Yaw of a quaternion (normalised first); raises InputRejectedError when non-finite or zero-norm."""
    x, y, z, w = float(q.x), float(q.y), float(q.z), float(q.w)
    n = math.sqrt(x * x + y * y + z * z + w * w) if all(map(math.isfinite, (x, y, z, w))) else math.nan
    if not math.isfinite(n) or n < 1e-6:
        raise InputRejectedError(f"{where}.orientation ({x!r}, {y!r}, {z!r}, {w!r}) is not a finite, "
                                 "non-zero quaternion")
    x, y, z, w = x / n, y / n, z / n, w / n
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def twist_from(msg: Any, bound: float = math.inf, where: str = "twist") -> Twist:
    """A Twist or TwistStamped message as the core's Twist; raises InputRejectedError on non-finite or huge values."""
    t = msg.twist if hasattr(msg, "twist") else msg
    vals = (float(t.linear.x), float(t.linear.y), float(t.linear.z), float(t.angular.z))
    for name, v in zip(("linear.x", "linear.y", "linear.z", "angular.z"), vals, strict=True):
        if not math.isfinite(v) or abs(v) > bound:
            raise InputRejectedError(f"{where}.{name} = {v!r} is not finite or beyond {bound:g}")
    return Twist(*vals)


def odometry_from(msg: Any, cfg: InputsConfig) -> Odometry:
    """A nav_msgs/Odometry as the core's Odometry; raises InputRejectedError for out-of-range fields."""
    p = msg.pose.pose
    x, y, z = _position("odom.pose", p.position, cfg.max_position_m)
    pose = Pose2D(x, y, yaw_of("odom.pose", p.orientation), z)
    return Odometry(_stamp(msg.header.stamp), pose, twist_from(msg.twist, cfg.max_speed, "odom.twist"))


def path_length_cdr(data: bytes) -> int | None:
    """The number of poses in a serialised nav_msgs/Path (CDR), read from its length field.

    None when the bytes are not a CDR encoding this understands (the caller then deserialises).
    Layout after the 4-byte encapsulation header: stamp (8 bytes), frame_id (uint32 length +
    bytes, padded to 4), then the poses' uint32 count.
    """
    if len(data) < 20 or data[0] != 0 or data[1] not in (0, 1):
        return None
    order = "<" if data[1] == 1 else ">"
    (n_frame,) = struct.unpack_from(order + "I", data, 12)
    off = 16 + n_frame
    off = 4 + ((off - 4 + 3) & ~3)  # alignment counts from the end of the encapsulation header
    if off + 4 > len(data):
        return None
    (count,) = struct.unpack_from(order + "I", data, off)
    return int(count)


class PlanIntake:
    """nav_msgs/Path -> Plan: the frame check, the size cap, pose checks and the plan numbering."""

    def __init__(self, cfg: InputsConfig, odom_frame: str = "odom") -> None:
        self.cfg = cfg
        self.odom_frame = odom_frame
        self.plans = 0  # plans the core took as new: the next one gets id plans + 1

    def check_size(self, poses: int) -> None:
        """Raise InputRejectedError when a plan of ``poses`` poses is over ``inputs.max_plan_poses``."""
        if poses > self.cfg.max_plan_poses:
            raise InputRejectedError(f"plan has {poses} poses, more than inputs.max_plan_poses "
                                     f"({self.cfg.max_plan_poses})")

    def convert(self, msg: Any) -> Plan:
        """The core's Plan (id 0: :meth:`apply` numbers it); raises InputRejectedError."""
        frame = msg.header.frame_id
        if frame and frame != self.odom_frame:
            raise InputRejectedError(f"plan header.frame_id is '{frame}', expected '{self.odom_frame}'")
        self.check_size(len(msg.poses))
        bound = self.cfg.max_position_m
        poses = []
        for i, ps in enumerate(msg.poses):
            where = f"plan.poses[{i}].pose"
            x, y, z = _position(where, ps.pose.position, bound)
            poses.append(Pose2D(x, y, yaw_of(where, ps.pose.orientation), z))
        return Plan(_stamp(msg.header.stamp), tuple(poses), 0)

    def apply(self, core: FastController, plan: Plan, now: float) -> bool:
        """Give ``plan`` to the core with the next id; True (and the id is used) when it was new."""
        if core.on_plan(Plan(plan.stamp, plan.poses, self.plans + 1), now):
            self.plans += 1
            return True
        return False


@dataclass(frozen=True)
class ObstacleReading:
    """One frame's obstacle points (N, 3) in base_link, with what the source knows about them."""

    points: NDArray[np.float32]
    stamp: float
    filtered: bool  # height band and finiteness already applied
    remembered: int = 0  # of which from the memory
    blind: bool = False  # a frame too close to see: the memory was held


class ObstacleSource:
    """Depth frames or point clouds -> obstacle points in base_link (Nav2's collision-monitor Source).

    ``kind`` is ``depth`` (projector from camera_info, the zones' box as region of interest, height
    band, obstacle memory, blind frames) or ``pointcloud`` (``cloud_frame`` ``camera_optical`` uses
    ``depth.base_T_camera``; the core applies the height band; no memory: a cloud carries no
    per-pixel "seen" information). The staleness rule is the core's ``timeouts.obstacles_s``
    (``timeout_s`` here). One thread feeds a source its frames and owns the memory;
    :meth:`odometry` may come from another (the pose history has its own lock).
    """

    def __init__(self, cfg: ControlConfig, kind: str = "depth", cloud_frame: str = "camera_optical") -> None:
        if kind not in ("depth", "pointcloud"):
            raise ValueError(f"obstacle source kind must be 'depth' or 'pointcloud', got {kind!r}")
        self.cfg, self.kind, self.cloud_frame = cfg, kind, cloud_frame
        self.roi = ZoneChecker.from_config(cfg.zones).box
        self.timeout_s = cfg.timeouts.obstacles_s
        self.projector: DepthProjector | None = None
        self.memory = ObstacleMemory(cfg.memory, self.roi) if cfg.memory.enabled and kind == "depth" else None
        self._cloud_rt = base_from_optical(cfg.depth)
        # Recent (stamp, pose) pairs: a frame is placed with the newest pose stamped strictly
        # before it. In lock-step that pose is the previous tick's, which has always arrived, so
        # the memory never depends on whether this tick's odometry or depth came first.
        self._poses: deque[tuple[float, Pose2D]] = deque(maxlen=256)
        self._poses_lock = threading.Lock()
        self._last = np.zeros((0, 3), dtype=np.float32)  # the last reading's points, for blind frames
        self.blind_frames = 0

    def odometry(self, odom: Odometry) -> None:
        """The robot's latest pose (moves the remembered points)."""
        with self._poses_lock:
            self._poses.append((odom.stamp, odom.pose))

    def pose_before(self, stamp: float) -> Pose2D | None:
        """The newest pose stamped strictly before ``stamp`` (None when there is none)."""
        with self._poses_lock:
            for t, pose in reversed(self._poses):
                if t < stamp:
                    return pose
        return None

    def camera_info(self, msg: Any) -> None:
        """Build (or keep) the projector for this camera_info; raises ConversionError/ValueError."""
        k = camera_info_to_matrix(msg)
        p = self.projector
        if p is None or not p.matches(k, int(msg.width), int(msg.height)):
            self.projector = DepthProjector(k, int(msg.width), int(msg.height), self.cfg.depth)

    def depth(self, msg: Any) -> ObstacleReading | None:
        """One depth Image as a reading; None before the first camera_info. Raises on a bad image."""
        projector = self.projector
        if projector is None:
            return None
        depth_m = depth_image_to_metres(msg)
        current = projector.points(depth_m, roi=self.roi)
        stamp = _stamp(msg.header.stamp)
        s = self.cfg.depth.stride
        sub = depth_m[::s, ::s]
        with np.errstate(invalid="ignore"):
            valid = float(np.count_nonzero(sub > 0.0)) / max(sub.size, 1)  # NaN compares false
        blind = valid < self.cfg.memory.blind_valid_fraction and len(self._last) > 0
        self.blind_frames += blind
        pose = self.pose_before(stamp)
        if self.memory is not None and pose is not None:
            remembered = self.memory.remembered_base(pose)
            row, col, inside = projector.pixels(remembered)
            d = depth_m[row, col]
            with np.errstate(invalid="ignore"):
                measured = inside & (d > self.cfg.depth.min_range)
            kept = self.memory.update(current, pose, stamp, measured, hold=blind)
            points = np.concatenate([current, kept]) if len(kept) else current
            reading = ObstacleReading(points, stamp, True, len(kept), blind)
        elif blind:
            reading = ObstacleReading(self._last, stamp, True, len(self._last), True)
        else:
            reading = ObstacleReading(current, stamp, True)
        self._last = reading.points
        return reading

    def cloud(self, msg: Any) -> ObstacleReading:
        """One PointCloud2 as a reading (the height band is left to the core). Raises on a bad cloud."""
        points = cloud_to_xyz(msg)
        if self.cloud_frame == "camera_optical":
            rot, t = self._cloud_rt
            points = points @ rot.T + t
        return ObstacleReading(points, _stamp(msg.header.stamp), False)


class Pacing(Protocol):
    """When inputs take effect: at once on the caller's clock, or at the lock-step tick that announces them."""

    lock_step: bool

    def time_of(self, stamp: float, clock_now: float) -> float:
        """The time the core is given for an input stamped ``stamp`` arriving at ``clock_now``."""

    def hold_plan(self, plan: Plan) -> bool:
        """True when the plan is held for a later :meth:`due_plans` instead of applied now."""

    def due_plans(self, release: float) -> list[Plan]:
        """Held plans stamped at or before ``release``, in arrival order (removed from the hold)."""

    def received(self, topic: str, stamp: float) -> None:
        """An input on ``topic`` stamped ``stamp`` was handled (used or refused)."""


class FreeRun:
    """Every input takes effect on arrival, at the caller's clock (the timer-driven node, offline replay)."""

    lock_step = False

    def time_of(self, stamp: float, clock_now: float) -> float:
        return clock_now

    def hold_plan(self, plan: Plan) -> bool:
        return False

    def due_plans(self, release: float) -> list[Plan]:
        return []

    def received(self, topic: str, stamp: float) -> None:
        return None


class LockStep:
    """Simulation lock-step: inputs take their stamps as time; plans wait for the tick that releases them,
    so which tick first uses a plan never depends on transport timing (r1_core.ros.sim_sync)."""

    lock_step = True

    def __init__(self, ack: Callable[[str, float], None]) -> None:
        self._ack = ack
        self._held: list[Plan] = []
        self._lock = threading.Lock()

    def time_of(self, stamp: float, clock_now: float) -> float:
        return stamp

    def hold_plan(self, plan: Plan) -> bool:
        with self._lock:
            self._held.append(plan)
        return True

    def due_plans(self, release: float) -> list[Plan]:
        with self._lock:
            due = [p for p in self._held if p.stamp <= release + 1e-9]
            self._held = [p for p in self._held if p.stamp > release + 1e-9]
        return due

    def received(self, topic: str, stamp: float) -> None:
        self._ack(topic, stamp)


class ControlInputs:
    """Messages in, core calls out: the one copy of the control node's input glue.

    ``lock`` serialises core calls when inputs arrive on several threads (the node passes a
    ``threading.Lock``; offline replay none). Each method raises InputRejectedError, ConversionError
    or ValueError for a message it refuses; the core is then unchanged.
    """

    def __init__(self, core: FastController, *, odom_frame: str = "odom", source: ObstacleSource | None = None,
                 pacing: Pacing | None = None, lock: threading.Lock | None = None,
                 mux_topics: bool = True) -> None:
        self.core = core
        cfg = core.cfg
        self.plans = PlanIntake(cfg.inputs, odom_frame)
        self.source = source
        self.pacing: Pacing = pacing or FreeRun()
        self.lock: contextlib.AbstractContextManager[Any] = lock if lock is not None else contextlib.nullcontext()
        self._early_depth: Any = None  # lock-step only: a frame that beat its camera_info
        self._release = -math.inf
        self.last_error = ""  # why the last failed tick failed (the caller logs and clears it)

    # ---- the loop side -------------------------------------------------------------------
    def tick(self, now: float, release: float = -math.inf) -> ControlOutput:
        """Apply the plans ``release`` lets through (lock-step), then one core step.

        Never raises: a step that fails anyway (a bug, an input no check foresaw) yields zero for
        this tick, with a hard stop so the next tick ramps up from rest, and ``last_error`` says why.
        """
        self._release = max(self._release, release)
        with self.lock:
            try:
                for plan in self.pacing.due_plans(self._release):
                    self.plans.apply(self.core, plan, now)
                return self.core.step(now)
            except Exception as exc:  # a loop must not die from one tick
                self.last_error = f"{type(exc).__name__}: {exc}"
                self.core.limiter.hard_stop()
                return ControlOutput(ZERO, "none", (), ControlState.ERROR)

    # ---- inputs --------------------------------------------------------------------------
    def odometry(self, msg: Any, clock_now: float) -> None:
        """A nav_msgs/Odometry."""
        try:
            odom = odometry_from(msg, self.core.cfg.inputs)
        except InputRejectedError:
            self.pacing.received(topics.ODOM, _stamp(msg.header.stamp))  # refused: no tick waits for it
            raise
        now = self.pacing.time_of(odom.stamp, clock_now)
        with self.lock:
            self.core.on_odom(odom, now)
        if self.source is not None:
            self.source.odometry(odom)
        self.pacing.received(topics.ODOM, odom.stamp)

    def plan_size(self, poses: int) -> None:
        """Refuse a plan by its pose count alone (before converting it)."""
        self.plans.check_size(poses)

    def plan(self, msg: Any, clock_now: float) -> bool:
        """A nav_msgs/Path; True when the core took it as a new plan now."""
        try:
            plan = self.plans.convert(msg)
        except InputRejectedError:
            self.pacing.received(topics.PLAN, _stamp(msg.header.stamp))  # refused: no tick waits for it
            raise
        if self.pacing.hold_plan(plan):
            self.pacing.received(topics.PLAN, plan.stamp)
            return False
        with self.lock:
            return self.plans.apply(self.core, plan, clock_now)

    def teleop(self, name: str, msg: Any, clock_now: float) -> None:
        """A Twist or TwistStamped on mux input ``name``."""
        twist = twist_from(msg, where=name)
        with self.lock:
            self.core.on_teleop(name, twist, clock_now)

    def lock_input(self, name: str, engaged: bool, clock_now: float) -> bool:
        """A Bool on lock ``name``; True when a lock now masks navigation (zero at once)."""
        with self.lock:
            self.core.on_lock(name, engaged, clock_now)
            return self.core.mux.select(clock_now).lock is not None

    def camera_info(self, msg: Any, clock_now: float) -> ControlOutput | None:
        """A CameraInfo; uses a depth frame that arrived before it (lock-step) once the projector exists."""
        assert self.source is not None
        self.source.camera_info(msg)
        early, self._early_depth = self._early_depth, None
        return self.depth(early, clock_now) if early is not None else None

    def depth(self, msg: Any, clock_now: float) -> ControlOutput | None:
        """A depth Image: an immediate zero output when a stop zone newly triggers.

        Raises LookupError when no camera_info has come yet (in lock-step the frame is kept for it).
        """
        assert self.source is not None
        if self.source.projector is None and self.pacing.lock_step:
            # The frame's camera_info is on its way (same tick): use the frame then, so whether
            # it was used never depends on which of the two arrived first.
            self._early_depth = msg
            return None
        try:
            reading = self.source.depth(msg)
            if reading is None:
                raise LookupError("no camera_info yet: depth dropped")
            return self.obstacles(reading, clock_now)
        finally:
            # Used or refused, the tick must not wait for it.
            self.pacing.received(topics.DEPTH_IMAGE, _stamp(msg.header.stamp))

    def cloud(self, msg: Any, clock_now: float) -> ControlOutput | None:
        """A PointCloud2 of obstacle points."""
        assert self.source is not None
        return self.obstacles(self.source.cloud(msg), clock_now)

    def obstacles(self, reading: ObstacleReading, clock_now: float) -> ControlOutput | None:
        """Check a reading against the zones (outside the lock: pure) and record the verdict."""
        verdict = self.core.evaluate_obstacles(reading.points, filtered=reading.filtered)
        now = self.pacing.time_of(reading.stamp, clock_now)
        with self.lock:
            return self.core.apply_obstacles(verdict, reading.stamp, now)
