"""The reasoning and control nodes as separate processes, with a kinematic robot in the test.

Instruction in -> plan out -> velocity commands out; teleop and the e_stop lock win within one
control period; killing the reasoning process stops the robot within the plan timeout.
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
import yaml
from geometry_msgs.msg import TwistStamped
from nav_msgs.msg import Odometry
from nav_msgs.msg import Path as PathMsg
from rclpy.executors import MultiThreadedExecutor
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Bool, String

from nav_r1.graph import build_graph, robot_params_file
from nav_r1.runner import Graph
from r1_core.ros.convert import make_camera_info, numpy_to_image, sec_to_stamp, yaw_to_quaternion
from r1_core.ros.qos import RELIABLE_QOS, SENSOR_QOS

pytestmark = pytest.mark.ros

REPLY = "<think>The corridor ahead is clear.</think><action>move forward 25cm</action>"


class FakeRobot:
    """Integrates cmd_vel into odometry at 100 Hz and publishes camera and depth frames at 10 Hz."""

    def __init__(self, ctx: rclpy.Context) -> None:
        self.node = rclpy.create_node("fake_robot", context=ctx)
        n = self.node
        self.odom_pub = n.create_publisher(Odometry, "odom", RELIABLE_QOS)
        self.rgb_pub = n.create_publisher(Image, "camera/color/image_raw", SENSOR_QOS)
        self.depth_pub = n.create_publisher(Image, "camera/depth/image_raw", SENSOR_QOS)
        self.info_pub = n.create_publisher(CameraInfo, "camera/depth/camera_info", SENSOR_QOS)
        self.instr_pub = n.create_publisher(String, "nav_r1/instruction", RELIABLE_QOS)
        self.joy_pub = n.create_publisher(TwistStamped, "joy_vel", RELIABLE_QOS)
        self.estop_pub = n.create_publisher(Bool, "e_stop", RELIABLE_QOS)
        self.cmds: list[tuple[float, float, float]] = []  # (wall time, vx, wz)
        self.plans: list[PathMsg] = []
        self.status: list[dict] = []
        n.create_subscription(TwistStamped, "cmd_vel", self._on_cmd, RELIABLE_QOS)
        n.create_subscription(PathMsg, "nav_r1/plan", self.plans.append, RELIABLE_QOS)
        n.create_subscription(String, "nav_r1/status", lambda m: self.status.append(json.loads(m.data)),
                              RELIABLE_QOS)
        self.x = self.y = self.yaw = 0.0
        self.v = self.w = 0.0
        self.k = np.array([[100.0, 0, 79.5], [0, 100.0, 59.5], [0, 0, 1]])
        self.rgb = np.full((120, 160, 3), 90, np.uint8)
        self.depth = np.full((120, 160), 6.0, np.float32)
        self.ticks = 0
        n.create_timer(0.01, self._step)

    def _on_cmd(self, msg: TwistStamped) -> None:
        self.v, self.w = msg.twist.linear.x, msg.twist.angular.z
        self.cmds.append((time.monotonic(), self.v, self.w))

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
            self.depth_pub.publish(numpy_to_image(self.depth, "32FC1", stamp, "camera_color_optical_frame"))
            self.rgb_pub.publish(numpy_to_image(self.rgb, "rgb8", stamp, "camera_color_optical_frame"))

    def last_cmd_after(self, t: float) -> tuple[float, float, float] | None:
        after = [c for c in self.cmds if c[0] >= t]
        return after[0] if after else None


def _wait(cond, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def graph(tmp_path: Path, ros_context):
    replies = tmp_path / "replies.txt"
    replies.write_text(REPLY + "\n")
    # The control loop's own settings come from the robot's file; only obstacle source is the depth image.
    specs = build_graph({"robot": "wheeled", "reasoner": f"scripted:{replies}", "depth": "none"})
    g = Graph(specs, run_dir=tmp_path)
    robot = FakeRobot(ros_context)
    ex = MultiThreadedExecutor(num_threads=2, context=ros_context)
    ex.add_node(robot.node)
    spin = threading.Thread(target=ex.spin, daemon=True)
    spin.start()
    g.start()
    try:
        yield g, robot
    finally:
        g.stop()
        ex.shutdown(timeout_sec=2.0)
        spin.join(timeout=2.0)
        robot.node.destroy_node()
        for name in ("reasoning_node", "control_node"):
            log = tmp_path / "logs" / f"{name}.log"
            if log.is_file():
                print(f"--- {name} ---\n{log.read_text()[-3000:]}")


def test_instruction_plan_velocity_teleop_estop_and_reasoner_death(graph) -> None:
    g, robot = graph
    plan_timeout = yaml.safe_load(Path(robot_params_file("wheeled")).read_text())[
        "control_node"]["ros__parameters"]["timeouts"]["plan_s"]
    period = 0.01

    # Instruction in -> plan out (odom frame, start pose + one 25 cm step) -> forward velocity out.
    assert _wait(lambda: robot.node.count_subscribers("nav_r1/instruction") > 0, 20.0), "reasoning node not up"
    robot.instr_pub.publish(String(data="go down the corridor"))
    assert _wait(lambda: robot.plans, 20.0), "no plan published"
    plan = robot.plans[0]
    assert plan.header.frame_id == "odom" and len(plan.poses) == 2
    step = plan.poses[1].pose.position.x - plan.poses[0].pose.position.x
    assert step == pytest.approx(0.25, abs=1e-6)
    assert any(s.get("actions") == ["move forward 25cm"] for s in robot.status)
    assert _wait(lambda: any(c[1] > 0.05 for c in robot.cmds), 10.0), "no forward command"

    # Teleop wins within one control period (plus DDS delivery).
    t = time.monotonic()
    joy = TwistStamped()
    joy.twist.angular.z = 0.7
    for _ in range(30):
        joy.header.stamp = sec_to_stamp(time.time())
        robot.joy_pub.publish(joy)
        time.sleep(0.01)
    first = next((c for c in robot.cmds if c[0] >= t and abs(c[2] - 0.7) < 0.2), None)
    assert first is not None, "teleop never won"
    # Published command reflects the joystick within a couple of periods of the first message
    # (the acceleration limiter ramps it, so we look for the sign change of wz towards +0.7).
    assert first[0] - t < 0.5

    # e_stop: zero at once (the next command after the lock is zero).
    robot.estop_pub.publish(Bool(data=True))
    t = time.monotonic()
    assert _wait(lambda: (c := robot.last_cmd_after(t + 2 * period)) is not None and c[1] == 0.0 and c[2] == 0.0,
                 2.0), "e_stop did not zero the command"
    robot.estop_pub.publish(Bool(data=False))
    assert _wait(lambda: any(c[1] > 0.05 for c in robot.cmds if c[0] > time.monotonic() - 0.2), 10.0), \
        "navigation did not resume after the e_stop was released"

    # Kill the reasoning process: no more plan heartbeats, the robot stops within the plan timeout.
    proc = g.process("reasoning_node").popen
    proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    proc.wait(timeout=5.0)
    assert _wait(lambda: robot.cmds and robot.cmds[-1][0] > killed and robot.cmds[-1][1] == 0.0
                 and robot.cmds[-1][2] == 0.0, plan_timeout + 3.0)
    stopped_at = next(c[0] for c in robot.cmds if c[0] > killed and c[1] == 0.0 and c[2] == 0.0
                      and all(d[1] == 0.0 for d in robot.cmds if d[0] >= c[0]))
    # Within the plan timeout plus the deceleration ramp from cruise speed.
    assert stopped_at - killed <= plan_timeout + 1.0
