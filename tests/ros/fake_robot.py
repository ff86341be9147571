"""A kinematic robot for node tests: integrates cmd_vel into odometry, publishes camera and depth."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import rclpy
from geometry_msgs.msg import TwistStamped
from nav_msgs.msg import Odometry
from nav_msgs.msg import Path as PathMsg
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Bool, String

from r1_core.graph import NodeSpec
from r1_core.ros.convert import make_camera_info, numpy_to_image, yaw_to_quaternion
from r1_core.ros.qos import RELIABLE_QOS, SENSOR_QOS
from r1_core.runner import Graph


class FakeRobot:
    """Integrates cmd_vel into odometry at 100 Hz and publishes camera and depth frames at 10 Hz."""

    def __init__(self, ctx: rclpy.Context) -> None:
        self.node = rclpy.create_node("fake_robot", context=ctx)
        n = self.node
        self.odom_pub = n.create_publisher(Odometry, "odom", RELIABLE_QOS)
        self.rgb_pub = n.create_publisher(Image, "camera/color/image_raw", SENSOR_QOS)
        self.depth_pub = n.create_publisher(Image, "camera/depth/image_raw", SENSOR_QOS)
        self.info_pub = n.create_publisher(CameraInfo, "camera/depth/camera_info", SENSOR_QOS)
        self.color_info_pub = n.create_publisher(CameraInfo, "camera/color/camera_info", SENSOR_QOS)
        self.instr_pub = n.create_publisher(String, "nav_r1/instruction", RELIABLE_QOS)
        self.joy_pub = n.create_publisher(TwistStamped, "joy_vel", RELIABLE_QOS)
        self.estop_pub = n.create_publisher(Bool, "e_stop", RELIABLE_QOS)
        self.cmds: list[tuple[float, float, float]] = []  # (monotonic time of arrival, vx, wz)
        self.cmd_delays: list[float] = []  # arrival minus header stamp [s], both wall clock
        self.plans: list[PathMsg] = []
        self.status: list[dict] = []
        self.states: list[tuple[float, dict]] = []  # (arrival, control_state): for failure messages
        self.events: list[tuple[float, dict]] = []  # (arrival, safety event)
        n.create_subscription(TwistStamped, "cmd_vel", self._on_cmd, RELIABLE_QOS)
        self.plan_times: list[float] = []  # arrival of each plan message (heartbeats included)
        n.create_subscription(PathMsg, "nav_r1/plan", self._on_plan, RELIABLE_QOS)
        n.create_subscription(String, "nav_r1/status", lambda m: self.status.append(json.loads(m.data)),
                              RELIABLE_QOS)
        n.create_subscription(String, "nav_r1/control_state",
                              lambda m: self.states.append((time.monotonic(), json.loads(m.data))), RELIABLE_QOS)
        n.create_subscription(String, "nav_r1/safety",
                              lambda m: self.events.append((time.monotonic(), json.loads(m.data))), RELIABLE_QOS)
        self.x = self.y = self.yaw = 0.0
        self.v = self.w = 0.0
        self.k = np.array([[100.0, 0, 79.5], [0, 100.0, 59.5], [0, 0, 1]])
        self.rgb = np.full((120, 160, 3), 90, np.uint8)
        self.depth = np.full((120, 160), 6.0, np.float32)
        self.ticks = 0
        n.create_timer(0.01, self._step)

    def _on_plan(self, msg: PathMsg) -> None:
        self.plans.append(msg)
        self.plan_times.append(time.monotonic())

    def _on_cmd(self, msg: TwistStamped) -> None:
        self.v, self.w = msg.twist.linear.x, msg.twist.angular.z
        self.cmds.append((time.monotonic(), self.v, self.w))
        self.cmd_delays.append(time.time() - (msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9))

    def _step(self) -> None:
        dt = 0.01
        self.x += self.v * math.cos(self.yaw) * dt
        self.y += self.v * math.sin(self.yaw) * dt
        self.yaw += self.w * dt
        od = Odometry()
        od.header.stamp = self.node.get_clock().now().to_msg()
        od.header.frame_id, od.child_frame_id = "odom", "base_link"
        od.pose.pose.position.x, od.pose.pose.position.y = self.x, self.y
        od.pose.pose.orientation = yaw_to_quaternion(self.yaw)
        od.twist.twist.linear.x, od.twist.twist.angular.z = self.v, self.w
        self.odom_pub.publish(od)
        self.ticks += 1
        if self.ticks % 10 == 0:
            stamp = self.node.get_clock().now().nanoseconds * 1e-9
            info = make_camera_info(self.k, 160, 120, "camera_color_optical_frame", stamp)
            self.info_pub.publish(info)
            self.color_info_pub.publish(info)  # depth is aligned to colour: the same intrinsics
            self.depth_pub.publish(numpy_to_image(self.depth, "32FC1", stamp, "camera_color_optical_frame"))
            self.rgb_pub.publish(numpy_to_image(self.rgb, "rgb8", stamp, "camera_color_optical_frame"))


@contextmanager
def robot_with_graph(specs: Sequence[NodeSpec], run_dir: Path, ctx: rclpy.Context) -> Iterator[tuple[Graph, FakeRobot]]:
    """The nodes of ``specs`` as processes around a spinning FakeRobot; node logs are printed after."""
    graph = Graph(specs, run_dir=run_dir)
    robot = FakeRobot(ctx)
    # Single-threaded: every callback is in the node's default (mutually exclusive) group, and
    # rclpy's MultiThreadedExecutor then re-polls its futures in a busy loop that starved the 100 Hz
    # odometry timer for up to 0.8 s (seen as odom_stale / obstacles_stale in the control node).
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(robot.node)
    spin = threading.Thread(target=ex.spin, daemon=True)
    spin.start()
    graph.start()
    try:
        yield graph, robot
    finally:
        graph.stop()
        ex.shutdown(timeout_sec=2.0)
        spin.join(timeout=2.0)
        robot.node.destroy_node()
        for spec in specs:
            log = run_dir / "logs" / f"{spec.name}.log"
            if log.is_file():
                print(f"--- {spec.name} ---\n{log.read_text()[-3000:]}")
