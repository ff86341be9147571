"""Depth image -> obstacle points in base_link, in a process of its own (``obstacles:=process``).

The control node can project depth itself (the default), but then every 640x480 frame is received
and converted inside the control process, and bench/bench_control.py measured what that costs the
100 Hz loop under SCHED_FIFO: p99 jitter 1.5-1.9 ms with frames going into the node against 0.15 ms
with the same frames going to another process. This node takes that work: it projects each depth
frame with the same :class:`~nav_r1.control.depth.DepthProjector`, keeps only the points inside the
collision zones' bounding box, and publishes them as a small PointCloud2 in ``base_link`` on
``nav_r1/obstacles`` with the depth frame's stamp -- an empty cloud when nothing is there, so the
control node's obstacle timeout keeps meaning "no fresh depth". The control node then runs with
``obstacle_source: pointcloud``, ``pointcloud_topic: nav_r1/obstacles``, ``pointcloud_frame:
base_link``; ``nav_r1.graph`` sets both up and hands this node the control node's own ``depth.*``
and ``zones.*`` values, so there is one place to edit them.

With ``realtime_priority`` > 0 it runs SCHED_FIFO at that priority: give it one below the control
node's so the loop always goes first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from nav_r1.control.config import DepthConfig, ZonesConfig
from nav_r1.control.depth import DepthProjector
from nav_r1.control.safety import ZoneChecker
from r1_core.params import param, validate_params
from r1_core.ros.convert import ConversionError, camera_info_to_matrix, depth_image_to_metres, xyz_to_pointcloud
from r1_core.ros.node_main import run_node, set_realtime_priority
from r1_core.ros.params import declare_config
from r1_core.ros.qos import SENSOR_QOS

OBSTACLES_TOPIC = "nav_r1/obstacles"
DEPTH_TOPIC = "camera/depth/image_raw"
DEPTH_INFO_TOPIC = "camera/depth/camera_info"


@dataclass(frozen=True)
class ObstacleNodeConfig:
    """Parameters of the node itself (projection and zones are ``depth.*`` and ``zones.*``)."""

    base_frame: str = param("base_link", "frame_id of the published cloud")
    realtime_priority: int = param(0, "SCHED_FIFO priority (0 = normal scheduling; one below the "
                                   "control node's when that one is set; needs CAP_SYS_NICE)", min=0, max=99)

    def __post_init__(self) -> None:
        validate_params(self)


def projector_for_info(prev: DepthProjector | None, msg: CameraInfo, cfg: DepthConfig) -> DepthProjector:
    """``prev`` when it was built for this camera_info, else a new projector.

    Raises ConversionError or ValueError for a camera_info that cannot project (the control node
    and this one share it).
    """
    k = camera_info_to_matrix(msg)
    if prev is not None and prev.matches(k, msg.width, msg.height):
        return prev
    return DepthProjector(k, int(msg.width), int(msg.height), cfg)


class ObstacleNode(Node):
    """Depth frames in, base_link obstacle clouds out; one frame at a time on one thread."""

    executor_kind = "single"

    def __init__(self) -> None:
        super().__init__("obstacle_node")
        self.cfg = declare_config(self, ObstacleNodeConfig)
        self.depth_cfg = declare_config(self, DepthConfig, "depth.")
        zones = declare_config(self, ZonesConfig, "zones.")
        self.roi = ZoneChecker.from_config(zones).box
        set_realtime_priority(self, self.cfg.realtime_priority)
        self._projector: DepthProjector | None = None
        self.frames = 0
        self.pub = self.create_publisher(PointCloud2, OBSTACLES_TOPIC, SENSOR_QOS)
        self.create_subscription(CameraInfo, DEPTH_INFO_TOPIC, self._on_info, SENSOR_QOS)
        self.create_subscription(Image, DEPTH_TOPIC, self._on_depth, SENSOR_QOS)
        x0, x1, y0, y1 = self.roi
        self.get_logger().info(f"depth -> {OBSTACLES_TOPIC} in '{self.cfg.base_frame}', stride "
                               f"{self.depth_cfg.stride}, zone box x [{x0:.2f}, {x1:.2f}] y [{y0:.2f}, {y1:.2f}] m")

    def _on_info(self, msg: CameraInfo) -> None:
        try:
            self._projector = projector_for_info(self._projector, msg, self.depth_cfg)
        except (ConversionError, ValueError) as exc:
            self.get_logger().error(f"bad camera_info: {exc}", throttle_duration_sec=5.0)

    def _on_depth(self, msg: Image) -> None:
        projector = self._projector
        if projector is None:
            self.get_logger().warning("no camera_info yet: depth dropped", throttle_duration_sec=5.0)
            return
        try:
            points = projector.points(depth_image_to_metres(msg), roi=self.roi)
        except (ConversionError, ValueError) as exc:
            self.get_logger().error(f"dropped a depth frame: {exc}", throttle_duration_sec=5.0)
            return
        header = msg.header
        header.frame_id = self.cfg.base_frame
        self.pub.publish(xyz_to_pointcloud(points, header))
        self.frames += 1


def main(args: Sequence[str] | None = None) -> int:
    """Console script ``obstacle_node``."""
    return run_node(ObstacleNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
