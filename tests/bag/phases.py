"""Build a small rosbag2 bag with scripted phases: clear path, an obstacle in the depth image, clear again.

The robot drives straight along +x under a one-segment plan; the recorded ``cmd_vel`` is what a
correct controller would command (ramp up at the acceleration limit, zero while the obstacle is in
the stop zone, ramp up again), and the recorded odometry integrates it. Messages are rclpy messages
serialised with ``rclpy.serialization`` (the bytes the recorder stores).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from geometry_msgs.msg import PoseStamped, TwistStamped
from nav_msgs.msg import Odometry
from nav_msgs.msg import Path as PathMsg
from rclpy.serialization import serialize_message
from rosbags.rosbag2 import StoragePlugin, Writer
from rosgraph_msgs.msg import Clock
from std_msgs.msg import String

from nav_r1.bag.mcap_crc import seal_chunk_crcs
from nav_r1.bag.reader import typestore
from r1_core.ros.convert import make_camera_info, numpy_to_image, sec_to_stamp, yaw_to_quaternion

T0 = 100.0  # bag start in sim time [s]
W, H = 160, 120
K = np.array([[100.0, 0.0, 80.0], [0.0, 100.0, 60.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class Phases:
    """What the bag scripts, in seconds from its start."""

    duration: float = 6.0
    obstacle_on: float = 2.5
    obstacle_off: float = 4.0
    speed: float = 0.3  # PrimitiveConfig.linear_speed default
    accel: float = 0.8  # LimitsConfig.max_linear_accel default
    depth_hz: float = 10.0
    odom_hz: float = 50.0
    cmd_hz: float = 50.0
    goal: tuple[float, float] = (1.5, 0.0)
    # Drive by joy_vel (the recorded command, as a teleop run) instead of a plan.
    teleop: bool = False
    omit: tuple[str, ...] = field(default_factory=tuple)


def depth_frame(obstacle: bool) -> np.ndarray:
    """A wall 3.5 m ahead; with ``obstacle`` a box 0.12 m in front of the camera (inside the stop zone)."""
    d = np.full((H, W), 3.5, dtype=np.float32)
    d[:10, :] = np.nan  # invalid pixels the projector must drop
    if obstacle:
        d[30:90, 40:120] = 0.12
    return d


def recorded_speed(p: Phases, t: float) -> float:
    """The forward speed a correct controller commands at ``t`` (hard stop, ramps at the accel limit)."""
    if p.obstacle_on <= t < p.obstacle_off:
        return 0.0
    start = 0.0 if t < p.obstacle_on else p.obstacle_off
    return min(p.speed, p.accel * (t - start))


def write_bag(path: Path, msgs: list[tuple[float, str, object]], storage: str = "mcap") -> None:
    """Write (time after T0 [s], topic, rclpy message) in time order as a rosbag2 bag, as ours are written."""
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    ts = typestore()
    writer = Writer(path, version=9, storage_plugin=plugin)
    writer.open()
    conns = {}
    try:
        for t, topic, msg in sorted(msgs, key=lambda m: m[0]):
            if topic not in conns:
                mod = type(msg).__module__.split(".")
                conns[topic] = writer.add_connection(topic, f"{mod[0]}/msg/{type(msg).__name__}", typestore=ts)
            writer.write(conns[topic], math.floor((T0 + t) * 1e9), serialize_message(msg))
    finally:
        writer.close()
    if storage == "mcap":
        for mcap in path.glob("*.mcap"):
            seal_chunk_crcs(mcap)  # as BagRecorder.close() does


def build_phase_bag(path: Path, phases: Phases | None = None, storage: str = "mcap") -> Phases:
    """Write the scripted bag to ``path`` (a new directory) and return its phases."""
    p = phases or Phases()
    msgs: list[tuple[float, str, object]] = []

    def at(t: float, topic: str, msg: object) -> None:
        if topic not in p.omit:
            msgs.append((t, topic, msg))

    # Odometry integrates the recorded command.
    x, dt = 0.0, 1.0 / p.odom_hz
    for i in range(round(p.duration * p.odom_hz) + 1):
        t = i * dt
        o = Odometry()
        o.header.stamp, o.header.frame_id, o.child_frame_id = sec_to_stamp(T0 + t), "odom", "base_link"
        o.pose.pose.position.x = x
        o.pose.pose.orientation = yaw_to_quaternion(0.0)
        o.twist.twist.linear.x = recorded_speed(p, t)
        at(t, "/odom", o)
        x += recorded_speed(p, t) * dt
    for i in range(round(p.duration * p.depth_hz) + 1):
        t = i / p.depth_hz
        on = p.obstacle_on <= t < p.obstacle_off
        at(t - 1e-6 if t > 0 else t, "/camera/depth/camera_info", make_camera_info(K, W, H, "camera_depth", T0 + t))
        at(t, "/camera/depth/image_raw", numpy_to_image(depth_frame(on), "32FC1", T0 + t, "camera_depth"))
    for i in range(round(p.duration * p.cmd_hz) + 1):
        t = i / p.cmd_hz
        c = TwistStamped()
        c.header.stamp, c.header.frame_id = sec_to_stamp(T0 + t), "base_link"
        c.twist.linear.x = recorded_speed(p, t)
        at(t, "/cmd_vel", c)
        if p.teleop:
            at(t, "/joy_vel", c)
    plan = PathMsg()
    plan.header.stamp, plan.header.frame_id = sec_to_stamp(T0), "odom"
    for px in (0.0, 10.0):
        ps = PoseStamped()
        ps.header = plan.header
        ps.pose.position.x = px
        ps.pose.orientation = yaw_to_quaternion(0.0)
        plan.poses.append(ps)
    if not p.teleop:
        at(0.05, "/nav_r1/plan", plan)
    status = {"state": "planned", "stamp": T0 + 0.05, "instruction": "go down the corridor",
              "raw": "<think>The corridor is clear.</think><action>move forward 25cm</action>",
              "reasoning": "The corridor is clear.", "actions": ["move forward 25cm"], "model": "scripted",
              "timings": {"total": 0.04}, "error": None, "obs_stamp": T0, "plan_id": 1}
    at(0.05, "/nav_r1/status", String(data=json.dumps(status)))
    goal = PoseStamped()
    goal.header.stamp, goal.header.frame_id = sec_to_stamp(T0), "odom"
    goal.pose.position.x, goal.pose.position.y = p.goal
    at(0.0, "/goal_pose", goal)
    ref = PathMsg()
    ref.header = goal.header
    for gx in np.linspace(0.0, p.goal[0], 4):
        ps = PoseStamped()
        ps.pose.position.x = float(gx)
        ref.poses.append(ps)
    at(0.0, "/nav_r1/reference_path", ref)
    for i in range(round(p.duration * 10) + 1):
        c = Clock()
        c.clock = sec_to_stamp(T0 + i / 10)
        at(i / 10, "/clock", c)

    write_bag(path, msgs, storage)
    return p
