"""Depth image -> obstacle points in base_link, in a process of its own (``obstacles:=process``).

The control node can project depth itself (the default), but then every 640x480 frame is received
and converted inside the control process, and bench/bench_control.py measured what that costs the
100 Hz loop under SCHED_FIFO: p99 jitter 1.5-1.9 ms with frames going into the node against 0.15 ms
with the same frames going to another process. This node takes that work with the control node's
own :class:`~nav_r1.control.inputs.ObstacleSource` (projector, the collision zones' box as region
of interest, height band, obstacle memory moved with odometry, "too close to see" frames) and
publishes the points as a small PointCloud2 in ``base_link`` on ``nav_r1/obstacles`` with the
depth frame's stamp -- an empty cloud when nothing is there, so the control node's obstacle
timeout keeps meaning "no fresh depth". The control node then runs with ``obstacle_source:
pointcloud``, ``pointcloud_topic: nav_r1/obstacles``, ``pointcloud_frame: base_link``;
``nav_r1.graph`` sets both up and hands this node the control node's own ``depth.*`` and
``zones.*`` values, so there is one place to edit them.

With ``realtime_priority`` > 0 it runs SCHED_FIFO at that priority: give it one below the control
node's so the loop always goes first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from nav_msgs.msg import Odometry as OdometryMsg
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from nav_r1.control.config import ControlConfig, DepthConfig, InputsConfig, MemoryConfig, ZonesConfig
from nav_r1.control.inputs import ObstacleSource, odometry_from
from r1_core import topics
from r1_core.params import param, validate_params
from r1_core.ros.convert import ConversionError, xyz_to_pointcloud
from r1_core.ros.node_main import run_node, set_realtime_priority
from r1_core.ros.params import declare_config
from r1_core.ros.qos import RELIABLE_QOS, SENSOR_QOS


@dataclass(frozen=True)
class ObstacleNodeConfig:
    """Parameters of the node itself (projection and zones are ``depth.*`` and ``zones.*``)."""

    base_frame: str = param("base_link", "frame_id of the published cloud")
    realtime_priority: int = param(0, "SCHED_FIFO priority (0 = normal scheduling; one below the "
                                   "control node's when that one is set; needs CAP_SYS_NICE)", min=0, max=99)

    def __post_init__(self) -> None:
        validate_params(self)


class ObstacleNode(Node):
    """Depth frames in, base_link obstacle clouds out; one frame at a time on one thread."""

    executor_kind = "single"

    def __init__(self) -> None:
        super().__init__("obstacle_node")
        self.cfg = declare_config(self, ObstacleNodeConfig)
        depth = declare_config(self, DepthConfig, "depth.")
        zones = declare_config(self, ZonesConfig, "zones.")
        memory = declare_config(self, MemoryConfig, "memory.")
        inputs = declare_config(self, InputsConfig, "inputs.")
        control = dataclasses.replace(ControlConfig(), depth=depth, zones=zones, memory=memory, inputs=inputs)
        self.depth_cfg = depth
        self.source = ObstacleSource(control, "depth")
        self.roi = self.source.roi
        set_realtime_priority(self, self.cfg.realtime_priority)
        self.frames = 0
        self.pub = self.create_publisher(PointCloud2, topics.OBSTACLES, SENSOR_QOS)
        self.create_subscription(CameraInfo, topics.DEPTH_INFO, self._on_info, SENSOR_QOS)
        self.create_subscription(Image, topics.DEPTH_IMAGE, self._on_depth, SENSOR_QOS)
        # Odometry moves the remembered obstacle points with the robot.
        self.create_subscription(OdometryMsg, topics.ODOM, self._on_odom, RELIABLE_QOS)
        x0, x1, y0, y1 = self.roi
        self.get_logger().info(f"depth -> {topics.OBSTACLES} in '{self.cfg.base_frame}', stride "
                               f"{depth.stride}, zone box x [{x0:.2f}, {x1:.2f}] y [{y0:.2f}, {y1:.2f}] m, "
                               f"memory {'on' if memory.enabled else 'off'}")

    def _on_odom(self, msg: OdometryMsg) -> None:
        try:
            self.source.odometry(odometry_from(msg, self.source.cfg.inputs))
        except ValueError as exc:
            self.get_logger().error(f"dropped odometry: {exc}", throttle_duration_sec=5.0)

    def _on_info(self, msg: CameraInfo) -> None:
        try:
            self.source.camera_info(msg)
        except (ConversionError, ValueError) as exc:
            self.get_logger().error(f"bad camera_info: {exc}", throttle_duration_sec=5.0)

    def _on_depth(self, msg: Image) -> None:
        try:
            reading = self.source.depth(msg)
        except (ConversionError, ValueError) as exc:
            self.get_logger().error(f"dropped a depth frame: {exc}", throttle_duration_sec=5.0)
            return
        if reading is None:
            self.get_logger().warning("no camera_info yet: depth dropped", throttle_duration_sec=5.0)
            return
        header = msg.header
        header.frame_id = self.cfg.base_frame
        self.pub.publish(xyz_to_pointcloud(reading.points, header))
        self.frames += 1


def main(args: Sequence[str] | None = None) -> int:
    """Console script ``obstacle_node``."""
    return run_node(ObstacleNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
