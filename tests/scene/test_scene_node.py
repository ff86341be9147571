"""scene_node over rclpy on a private domain: frames and odometry in, JSON answers, markers and goal plans out."""

from __future__ import annotations

import json
import math
import os
import random
import threading
from pathlib import Path

import numpy as np
import pytest
from helpers import wait_for
from scene_world import CAM, TINY_WORLD

from nav_r1.scene.boxes import Box3D, iou_3d
from nav_r1.scene.procedural import visible_box_2d
from nav_r1.scene.protocol import Answer
from nav_r1.scene.render import render

# A private domain (set before rclpy is imported inside the test) unless the caller chose one.
os.environ.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid() + 17).randint(100, 200)))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

pytestmark = pytest.mark.ros

CUBE = Box3D((2.5, 0.0, 0.5), (1.0, 1.0, 1.0))
PITCH = 0.6  # tilted down: the cube's top is seen at ~25 degrees (lift_box keeps surfaces above 20 whole)


def test_scene_node_answers_grounds_and_refuses(tmp_path: Path) -> None:
    import rclpy
    from nav_msgs.msg import Odometry
    from nav_msgs.msg import Path as PathMsg
    from rclpy.executors import MultiThreadedExecutor
    from sensor_msgs.msg import CameraInfo, Image
    from std_msgs.msg import String
    from visualization_msgs.msg import MarkerArray

    from nav_r1.nodes.scene_node import SceneNode, base_T_optical
    from r1_core.ros.convert import make_camera_info, numpy_to_image, sec_to_stamp
    from r1_core.ros.node_main import use_default_dds_profile
    from r1_core.ros.qos import RELIABLE_QOS, SENSOR_QOS

    # The robot stands at x = -0.5 facing +x; the camera is 2.5 m up, pitched down.
    base_x = -0.5
    pose = np.eye(4)
    pose[0, 3] = base_x
    cam_pose = pose @ base_T_optical((0.0, 0.0, 2.5, 0.0, PITCH, 0.0))
    rgb, depth, inst = render(TINY_WORLD, CAM, cam_pose)
    box2d = visible_box_2d(inst, 0)
    assert box2d is not None
    reply = "<think>The red cube.</think><answer>" + json.dumps(
        {"answer": "the red cube", "objects": [{"label": "cube", "view": 0, "box_2d": list(box2d)}]}) + "</answer>"
    replies = tmp_path / "replies.txt"
    no_box = "<think>No chair here.</think><answer>I see no chair</answer>"
    replies.write_text(f"{reply}\n{reply}\n{no_box}\n")

    use_default_dds_profile()
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    executor = MultiThreadedExecutor(num_threads=4, context=ctx)
    node = SceneNode(context=ctx, cli_args=["--ros-args", "-p", f"reasoner:=scripted:{replies}",
                                            "-p", f"base_T_camera:=[0.0, 0.0, 2.5, 0.0, {PITCH}, 0.0]",
                                            "-p", "frame_period_s:=0.0", "-p", "pose_timeout_s:=30.0",
                                            "-p", "plan_heartbeat_hz:=20.0", "-p", "publish_plans:=true"])
    peer = rclpy.create_node("scene_test_peer", context=ctx)
    answers: list[Answer] = []
    markers: list[MarkerArray] = []
    plans: list[PathMsg] = []
    peer.create_subscription(PathMsg, "nav_r1/plan", plans.append, RELIABLE_QOS)
    peer.create_subscription(String, "nav_r1/answer", lambda m: answers.append(Answer.from_json(m.data)), RELIABLE_QOS)
    peer.create_subscription(MarkerArray, "nav_r1/grounding", markers.append, RELIABLE_QOS)
    q_pub = peer.create_publisher(String, "nav_r1/question", RELIABLE_QOS)
    info_pub = peer.create_publisher(CameraInfo, "camera/color/camera_info", SENSOR_QOS)
    color_pub = peer.create_publisher(Image, "camera/color/image_raw", SENSOR_QOS)
    depth_pub = peer.create_publisher(Image, "camera/depth/image_raw", SENSOR_QOS)
    odom_pub = peer.create_publisher(Odometry, "odom", SENSOR_QOS)
    executor.add_node(node)
    executor.add_node(peer)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()
    try:
        assert wait_for(lambda: node.count_publishers("nav_r1/question") > 0
                        and peer.count_subscribers("nav_r1/question") > 0, 10.0)
        assert wait_for(lambda: peer.count_publishers("nav_r1/answer") > 0, 10.0)
        # 1. A question before any frame: an answer that says so, no boxes.
        q_pub.publish(String(data='{"text": "where is the red cube?", "conversation_id": "t"}'))
        wait_for(lambda: len(answers) >= 1, 10.0, "the no-frames answer")
        assert answers[0].error is not None and answers[0].error.startswith("no_frames") and not answers[0].objects
        # 2. A malformed question.
        q_pub.publish(String(data='{"txt": "where?"}'))
        wait_for(lambda: len(answers) >= 2, 10.0, "the bad-question answer")
        assert answers[1].error is not None and answers[1].error.startswith("bad_question")
        # 3. Frames without odometry are refused (no pose); then with odometry they are fused.
        k = np.array([[CAM.fx, 0, CAM.cx], [0, CAM.fy, CAM.cy], [0, 0, 1.0]])

        def send(t: float, with_odom: bool) -> None:
            info_pub.publish(make_camera_info(k, CAM.width, CAM.height, "camera_color_optical_frame", t))
            if with_odom:
                odom = Odometry()
                odom.header.stamp = sec_to_stamp(t)
                odom.header.frame_id = "odom"
                odom.pose.pose.position.x = base_x
                odom.pose.pose.orientation.w = 1.0
                odom_pub.publish(odom)
            color_pub.publish(numpy_to_image(rgb, "rgb8", t, "camera_color_optical_frame"))
            depth_pub.publish(numpy_to_image(depth, "32FC1", t, "camera_color_optical_frame"))

        for i in range(10):
            send(1.0 + 0.1 * i, with_odom=False)
            if node.memory.frames_refused:
                break
            wait_for(lambda: node.memory.frames_refused > 0, 0.3)
        assert node.memory.frames_refused > 0 and node.memory.empty
        for i in range(20):
            send(100.0 + 0.1 * i, with_odom=True)
            if wait_for(lambda: not node.memory.empty, 0.3):
                break
        assert not node.memory.empty
        # 4. The question again: the scripted model's 2D box is lifted to the cube in odom.
        q_pub.publish(String(data='{"text": "where is the red cube?", "conversation_id": "t"}'))
        wait_for(lambda: len(answers) >= 3, 10.0, "the grounded answer")
        a = answers[2]
        assert a.error is None, a.error
        assert a.answer == "the red cube" and a.views_used and len(a.objects) == 1
        # Only through the right odom -> base -> camera chain does the box land on the cube.
        assert iou_3d(a.objects[0].box, CUBE) > 0.5, a.objects[0].box
        assert abs(a.objects[0].box.min[0] - 2.0) < 0.05
        wait_for(lambda: any(len(m.markers) == 3 for m in markers), 5.0, "grounding markers")
        cube = next(m for m in markers if len(m.markers) == 3).markers[1]
        assert cube.header.frame_id == "odom"
        assert math.isclose(cube.pose.position.x, a.objects[0].box.center[0], abs_tol=1e-3)
        # 5. "Go to the red cube": grounded, then a plan in odom from the robot to 0.6 m before the cube.
        send(110.0, with_odom=True)
        q_pub.publish(String(data='{"text": "go to the red cube", "conversation_id": "t"}'))
        wait_for(lambda: len(answers) >= 4, 10.0, "the go-to answer")
        a = answers[3]
        assert a.error is None and a.action is not None and a.action["ok"] and a.action["published"], a
        wait_for(lambda: len(plans) >= 2, 5.0, "the goal plan and a heartbeat")
        plan = plans[0]
        assert plan.header.frame_id == "odom" and len(plan.poses) == a.action["poses"]
        first, last = plan.poses[0].pose, plan.poses[-1].pose
        assert math.isclose(first.position.x, base_x, abs_tol=1e-6) and abs(first.position.y) < 1e-6
        assert abs(last.position.x - (a.objects[0].box.min[0] - 0.6)) < 1e-3 and abs(last.position.y) < 0.1
        assert math.isclose(last.position.x, a.action["goal"]["x"], abs_tol=1e-3)
        assert plans[1].header.stamp == plan.header.stamp and plans[1].poses == plan.poses  # heartbeat: same plan
        # 6. "Go to the chair" with no box in the reply: no new plan, an answer that says why.
        q_pub.publish(String(data='{"text": "go to the chair", "conversation_id": "t"}'))
        wait_for(lambda: len(answers) >= 5, 10.0, "the refused go-to answer")
        a = answers[4]
        assert a.error is not None and a.error.startswith("no_goal") and a.action is not None
        assert not a.action["ok"] and "I cannot go to the chair" in a.answer
        assert all(p.poses == plan.poses for p in plans)  # only the first goal's heartbeats
    finally:
        executor.shutdown(timeout_sec=2.0)
        spin.join(timeout=5.0)
        node.destroy_node()
        peer.destroy_node()
        rclpy.shutdown(context=ctx)


def test_scene_node_config_and_pose_helpers_validate() -> None:
    from nav_msgs.msg import Odometry

    from nav_r1.nodes.scene_node import SceneNodeConfig, base_T_optical, odom_pose
    from r1_core.params import ParamError

    with pytest.raises(ParamError, match="'reasoner'"):
        SceneNodeConfig()
    with pytest.raises(ParamError, match="base_T_camera"):
        SceneNodeConfig(reasoner="scripted:x", base_T_camera=(0.0, 0.0, 1.0))
    msg = Odometry()
    msg.pose.pose.orientation.w = 1.0
    msg.pose.pose.position.x = 2.0
    pose = odom_pose(msg)
    assert pose is not None and pose[0, 3] == 2.0
    msg.pose.pose.orientation.w = 0.5  # not a unit quaternion
    assert odom_pose(msg) is None
    msg.pose.pose.orientation.w = 1.0
    msg.pose.pose.position.y = float("nan")
    assert odom_pose(msg) is None
    # A level camera looks along base_link's x: its optical z axis is +x, its optical x axis is -y.
    t = base_T_optical((0.1, 0.0, 0.5, 0.0, 0.0, 0.0))
    assert np.allclose(t[:3, 2], [1, 0, 0]) and np.allclose(t[:3, 0], [0, -1, 0])
    assert np.allclose(t[:3, 3], [0.1, 0, 0.5])
