"""A bag of the blind stop zone: the robot keeps driving at constant speed toward a wall.

The recorded odometry moves at ``speed`` whatever is commanded (a robot that did not stop, or a
wall coming at a standing robot: the same frames), the depth camera sees a flat wall at z-depth
``wall_x - x - camera_x``, and below the camera's minimum range it reports 0 everywhere, as a
RealSense does. The replay must stop before the wall reaches the footprint and hold the stop to
the end of the bag.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from geometry_msgs.msg import PoseStamped, TwistStamped
from nav_msgs.msg import Odometry
from nav_msgs.msg import Path as PathMsg
from phases import T0, write_bag

from r1_core.ros.convert import make_camera_info, numpy_to_image, sec_to_stamp, yaw_to_quaternion

W, H = 160, 120
K = np.array([[100.0, 0.0, 79.5], [0.0, 100.0, 59.5], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class WallRun:
    """The scripted approach (the wheeled preset's camera and footprint), in seconds from the bag's start."""

    speed: float = 0.3
    wall_x: float = 1.2  # the wall's x in odom [m]
    camera_x: float = 0.175  # depth.base_T_camera x of the wheeled preset [m]
    min_range: float = 0.1  # below this the camera reports 0 [m]
    footprint_front: float = 0.25  # the 0.5 m long base's front in base_link [m]
    end_gap: float = 0.05  # the bag ends with the wall this far ahead of base_link [m]
    depth_hz: float = 15.0
    odom_hz: float = 50.0

    @property
    def duration(self) -> float:
        return (self.wall_x - self.end_gap) / self.speed

    def wall_ahead(self, t: float) -> float:
        """The wall's x in base_link at ``t``."""
        return self.wall_x - self.speed * t

    @property
    def reaches_footprint_s(self) -> float:
        return (self.wall_x - self.footprint_front) / self.speed

    @property
    def below_min_range_s(self) -> float:
        return (self.wall_x - self.camera_x - self.min_range) / self.speed


def build_wall_bag(path: Path, run: WallRun | None = None) -> WallRun:
    """Write the approach to ``path`` (a new MCAP bag directory) and return its script."""
    r = run or WallRun()
    msgs: list[tuple[float, str, object]] = []
    for i in range(math.floor(r.duration * r.odom_hz) + 1):
        t = i / r.odom_hz
        o = Odometry()
        o.header.stamp, o.header.frame_id, o.child_frame_id = sec_to_stamp(T0 + t), "odom", "base_link"
        o.pose.pose.position.x = r.speed * t
        o.pose.pose.orientation = yaw_to_quaternion(0.0)
        o.twist.twist.linear.x = r.speed
        msgs.append((t, "/odom", o))
        c = TwistStamped()
        c.header.stamp, c.header.frame_id = sec_to_stamp(T0 + t), "base_link"
        c.twist.linear.x = r.speed
        msgs.append((t, "/cmd_vel", c))
    for i in range(math.floor(r.duration * r.depth_hz) + 1):
        t = i / r.depth_hz
        z = r.wall_ahead(t) - r.camera_x
        depth = np.full((H, W), z if z >= r.min_range else 0.0, dtype=np.float32)
        msgs.append((t - 1e-6 if t > 0 else t, "/camera/depth/camera_info",
                     make_camera_info(K, W, H, "camera_depth", T0 + t)))
        msgs.append((t, "/camera/depth/image_raw", numpy_to_image(depth, "32FC1", T0 + t, "camera_depth")))
    plan = PathMsg()
    plan.header.stamp, plan.header.frame_id = sec_to_stamp(T0), "odom"
    for px in (0.0, 10.0):
        ps = PoseStamped()
        ps.header = plan.header
        ps.pose.position.x = px
        ps.pose.orientation = yaw_to_quaternion(0.0)
        plan.poses.append(ps)
    msgs.append((0.02, "/nav_r1/plan", plan))
    write_bag(path, msgs)
    return r
