"""The VLA node in its own process: scripted replies + synthetic RGB-D -> JointTrajectory and status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")

from helpers import wait_for  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, JointState  # noqa: E402
from std_msgs.msg import String  # noqa: E402
from trajectory_msgs.msg import JointTrajectory  # noqa: E402

from r1_core.ros.convert import make_camera_info, numpy_to_image  # noqa: E402
from r1_core.ros.qos import RELIABLE_QOS, SENSOR_QOS  # noqa: E402
from vla_r1.geometry import Intrinsics, pixel_to_normalised, project, transform_points  # noqa: E402
from vla_r1.kinematics import DOWN, ArmKinematics  # noqa: E402

pytestmark = pytest.mark.ros

ROOT = Path(__file__).resolve().parents[2]
W, H = 160, 120
KMAT = np.array([[150.0, 0.0, 79.5], [0.0, 150.0, 59.5], [0.0, 0.0, 1.0]])
K = Intrinsics.from_matrix(KMAT, W, H)
JOINTS = [
    "shoulder_pan_joint",
    "shoulder_lift_joint",
    "elbow_joint",
    "wrist_1_joint",
    "wrist_2_joint",
    "wrist_3_joint",
    "left_finger_joint",
]




def table_depth(base_from_cam: np.ndarray) -> np.ndarray:
    u, v = np.meshgrid(np.arange(W), np.arange(H))
    rays = np.stack([(u - K.cx) / K.fx, (v - K.cy) / K.fy, np.ones((H, W))], axis=-1)
    dirs = rays @ base_from_cam[:3, :3].T
    return (-base_from_cam[2, 3] / dirs[..., 2]).astype(np.float32)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    kin = ArmKinematics()
    base_from_cam = kin.urdf.link_pose("camera_color_optical_frame")
    uv = project(transform_points(np.linalg.inv(base_from_cam), np.array([0.4, -0.05, 0.0])), K)
    x, y = pixel_to_normalised(float(uv[0]), float(uv[1]), K)
    replies = [
        f'<think>the cube</think><output>{{"x": {x:.4f}, "y": {y:.4f}, "width": 0.05, "height": 0.05}}</output>',
        "<think>unsure</think><output>somewhere left</output>",
    ]
    script = tmp_path_factory.mktemp("vla") / "replies.txt"
    script.write_text("\n".join(replies) + "\n")
    home = kin.ik(np.array([0.2, 0.24, 0.25]), DOWN).q
    return script, table_depth(base_from_cam), home


def test_instruction_to_trajectory_and_a_refusal(setup):
    script, depth, home = setup
    from r1_core.ros.node_main import use_default_dds_profile

    use_default_dds_profile()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vla_r1.nodes.vla_node",
            "--ros-args",
            "-p",
            f"backend:=scripted:{script}",
            "-p",
            "sensor_timeout_s:=5.0",
            "-p",
            "joint_state_timeout_s:=5.0",
        ],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    node = rclpy.create_node("vla_node_test", context=ctx)
    executor = SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()
    try:
        trajs: list[JointTrajectory] = []
        statuses: list[dict] = []
        node.create_subscription(JointTrajectory, "arm_controller/joint_trajectory", trajs.append, RELIABLE_QOS)
        node.create_subscription(String, "vla_r1/status", lambda m: statuses.append(json.loads(m.data)), RELIABLE_QOS)
        rgb_pub = node.create_publisher(Image, "camera/color/image_raw", SENSOR_QOS)
        depth_pub = node.create_publisher(Image, "camera/depth/image_raw", SENSOR_QOS)
        info_pub = node.create_publisher(CameraInfo, "camera/color/camera_info", SENSOR_QOS)
        js_pub = node.create_publisher(JointState, "joint_states", RELIABLE_QOS)
        instr_pub = node.create_publisher(String, "vla_r1/instruction", RELIABLE_QOS)
        rgb = np.full((H, W, 3), 120, np.uint8)

        def publish_sensors() -> None:
            now = time.time()
            rgb_pub.publish(numpy_to_image(rgb, "rgb8", now, "camera_color_optical_frame"))
            depth_pub.publish(numpy_to_image(depth, "32FC1", now, "camera_color_optical_frame"))
            info_pub.publish(make_camera_info(KMAT, W, H, "camera_color_optical_frame", now))
            js_pub.publish(JointState(name=JOINTS, position=[*home.tolist(), 0.04]))

        node.create_timer(0.1, publish_sensors)
        wait_for(lambda: instr_pub.get_subscription_count() > 0, 180.0, "the vla node to start")
        time.sleep(1.0)  # a few sensor messages reach it
        instr_pub.publish(String(data="affordance: pick up the red cube"))
        wait_for(lambda: len(statuses) >= 1, 120.0, "a status after the first instruction")
        assert statuses[0]["state"] == "planned", statuses[0]
        assert statuses[0]["reasoning"] == "the cube" and statuses[0]["model"].startswith("scripted")
        np.testing.assert_allclose(statuses[0]["targets"]["surface"], [0.4, -0.05, 0.0], atol=5e-3)
        wait_for(lambda: len(trajs) >= 1, 60.0, "the joint trajectory")
        t = trajs[0]
        assert list(t.joint_names) == JOINTS and len(t.points) > 10
        np.testing.assert_allclose(t.points[0].positions[:6], home, atol=1e-6)
        assert t.points[-1].positions[6] == pytest.approx(0.0)  # gripper closed at the end

        instr_pub.publish(String(data="pick up the blue cube"))
        wait_for(lambda: len(statuses) >= 2, 120.0, "a status after the second instruction")
        assert statuses[1]["state"] == "refused" and "JSON" in statuses[1]["reason"]
        time.sleep(0.3)
        assert len(trajs) == 1, "a refused reply publishes no trajectory"
    finally:
        executor.shutdown()
        spin.join(timeout=5)
        node.destroy_node()
        rclpy.shutdown(context=ctx)
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        print(out)
