"""The recorded side of a bag as plain series: commands, odometry, plans, status, goal, reference.

Message objects here are rosbags' (same field names as rclpy's), converted to the control core's
types so the evaluation never touches ROS.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from nav_r1.bag.reader import BagError, BagMessage, BagSource
from nav_r1.control.types import Odometry, Plan, Twist
from r1_core import Pose2D, topics
from r1_core.reasoning_status import ReasoningStatus
from r1_core.ros.convert import quaternion_to_yaw


@dataclass(frozen=True)
class TopicNames:
    """Where the evaluation finds each stream in the bag (GRAPH.md defaults)."""

    odom: str = topics.ODOM
    plan: str = topics.PLAN
    status: str = topics.STATUS
    cmd_vel: str = topics.CMD_VEL
    safety: str = topics.SAFETY
    control_stats: str = topics.CONTROL_STATS
    control_state: str = topics.CONTROL_STATE
    depth: str = topics.DEPTH_IMAGE
    depth_info: str = topics.DEPTH_INFO
    joy: str = topics.JOY_VEL
    key: str = topics.KEY_VEL
    e_stop: str = topics.E_STOP
    goal: str = topics.GOAL_POSE
    reference: str = topics.REFERENCE_PATH


def stamp_s(stamp: Any) -> float:
    """A ``builtin_interfaces/Time`` as float seconds."""
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def yaw_of(q: Any) -> float:
    """Yaw of a quaternion (rotation about +z, REP-103), as the control node computes it."""
    return quaternion_to_yaw(q)


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def twist_of(msg: Any) -> Twist:
    """A Twist or TwistStamped message as the core's Twist; raises ValueError on non-finite values."""
    t = msg.twist if hasattr(msg, "twist") else msg
    return Twist(float(t.linear.x), float(t.linear.y), float(t.linear.z), float(t.angular.z))


def odom_of(msg: Any) -> Odometry:
    """A nav_msgs/Odometry as the core's Odometry (pose in odom, twist in base_link)."""
    p = msg.pose.pose
    pose = Pose2D(float(p.position.x), float(p.position.y), yaw_of(p.orientation), float(p.position.z))
    return Odometry(stamp_s(msg.header.stamp), pose, twist_of(msg.twist))


def plan_of(msg: Any, plan_id: int) -> Plan:
    """A nav_msgs/Path as the core's Plan (poses as recorded, stamp from the header)."""
    poses = tuple(
        Pose2D(float(ps.pose.position.x), float(ps.pose.position.y), yaw_of(ps.pose.orientation),
               float(ps.pose.position.z))
        for ps in msg.poses
    )
    return Plan(stamp_s(msg.header.stamp), poses, plan_id)


def json_of(msg: Any) -> dict[str, Any] | None:
    """The JSON object a std_msgs/String carries, or None when it is not a JSON object."""
    try:
        value = json.loads(msg.data)
    except (ValueError, TypeError):
        return None
    return value if isinstance(value, dict) else None


@dataclass
class BagTraces:
    """What the bag recorded, on bag time in seconds from its first message."""

    t0_s: float
    duration_s: float
    topics: dict[str, str]
    counts: dict[str, int]
    recorded_cmds: list[tuple[float, Twist]] = field(default_factory=list)
    odom: list[tuple[float, Odometry]] = field(default_factory=list)
    plans: list[tuple[float, Plan]] = field(default_factory=list)
    status: list[tuple[float, ReasoningStatus]] = field(default_factory=list)
    recorded_safety: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    goal: tuple[float, float] | None = None
    reference_path: list[tuple[float, float]] | None = None
    # Log time of the first depth frame: before it a controller has no obstacle data.
    depth_first_s: float | None = None
    bad_messages: list[str] = field(default_factory=list)


def read_traces(source: BagSource, names: TopicNames) -> BagTraces:
    """Read the recorded streams the evaluation needs (images are left to the replay)."""
    t0_ns = source.start_ns
    traces = BagTraces(
        t0_s=t0_ns * 1e-9,
        duration_s=source.duration_s,
        topics=dict(source.topics),
        counts={t: source.count(t) for t in source.topics},
    )
    wanted = [n for n in (names.cmd_vel, names.odom, names.plan, names.status, names.safety, names.goal,
                          names.reference) if n in source.topics]
    if names.depth in source.topics:
        first = next(source.messages([names.depth]), None)
        traces.depth_first_s = (first.t_ns - t0_ns) * 1e-9 if first is not None else None
    plan_id = 0
    for m in source.messages(wanted):
        t = (m.t_ns - t0_ns) * 1e-9
        msg = source.deserialize(m)
        try:
            _add(traces, names, m, t, msg, plan_id)
        except (ValueError, AttributeError) as exc:
            # One bad message (NaN pose, wrong JSON) is reported, not fatal: the rest stays usable.
            traces.bad_messages.append(f"{m.topic} at {t:.3f} s: {exc}")
        if m.topic == names.plan:
            plan_id += 1
    return traces


def _add(traces: BagTraces, names: TopicNames, m: BagMessage, t: float, msg: Any, plan_id: int) -> None:
    if m.topic == names.cmd_vel:
        traces.recorded_cmds.append((t, twist_of(msg)))
    elif m.topic == names.odom:
        traces.odom.append((t, odom_of(msg)))
    elif m.topic == names.plan:
        traces.plans.append((t, plan_of(msg, plan_id)))
    elif m.topic == names.status:
        traces.status.append((t, ReasoningStatus.from_json(msg.data)))  # StatusError is a ValueError
    elif m.topic == names.safety:
        obj = json_of(msg)
        if obj is None:
            raise ValueError("not a JSON object")
        traces.recorded_safety.append((t, obj))
    elif m.topic == names.goal:
        x, y = float(msg.pose.position.x), float(msg.pose.position.y)
        if not _finite(x, y):
            raise ValueError("goal is not finite")
        traces.goal = (x, y)
    elif m.topic == names.reference:
        pts = [(float(p.pose.position.x), float(p.pose.position.y)) for p in msg.poses]
        if not pts or not all(_finite(*p) for p in pts):
            raise ValueError("reference path is empty or not finite")
        traces.reference_path = pts


def require_for_replay(source: BagSource, names: TopicNames, need_depth: bool = True) -> None:
    """Fail early with a BagError naming the topics a control replay cannot do without."""
    source.require([names.odom], "needed to replay through the control node")
    if need_depth:
        source.require([names.depth, names.depth_info],
                       "the control node's obstacle source; for a bag without depth pass --no-obstacles")
    if names.plan not in source.topics and names.joy not in source.topics and names.key not in source.topics:
        raise BagError(
            f"bag '{source.path}' has neither a plan ('{names.plan}') nor teleop ('{names.joy}', "
            f"'{names.key}'): nothing would command the robot"
        )
