"""The reasoning node's question interface over rclpy on a private domain.

Frames and odometry in; JSON answers, grounding markers, directed goal plans on nav_r1/plan, and a
planning answer executed step by step (grounding -> drive -> arrival -> arm instruction -> arm status).
"""

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


def _reply(answer: str, think: str = "Looking.") -> str:
    return f"<think>{think}</think><answer>{answer}</answer>"


def test_reasoning_node_answers_grounds_drives_and_runs_plans(tmp_path: Path) -> None:
    import rclpy
    from nav_msgs.msg import Odometry
    from nav_msgs.msg import Path as PathMsg
    from rclpy.executors import MultiThreadedExecutor
    from sensor_msgs.msg import CameraInfo, Image
    from std_msgs.msg import String
    from visualization_msgs.msg import MarkerArray

    from nav_r1.nodes.reasoning_node import ReasoningNode
    from nav_r1.nodes.scene_io import base_T_optical
    from r1_core.reasoning_status import ReasoningState, ReasoningStatus
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
    boxed = _reply(json.dumps({"answer": "the red cube",
                               "objects": [{"label": "cube", "view": 0, "box_2d": list(box2d)}]}), "The red cube.")
    replies = tmp_path / "replies.txt"
    no_box = _reply("I see no chair", "No chair here.")
    plan = _reply("navigate to the cube; pick up the item from the cube", "Go there, then pick.")
    # The scripted model answers in this order: questions 3-6 below, the plan of 7 and its step's grounding,
    # the plan of 8 and its grounding; the last reply repeats.
    replies.write_text("\n".join([boxed, boxed, no_box, plan, boxed, plan, boxed]) + "\n")

    use_default_dds_profile()
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    executor = MultiThreadedExecutor(num_threads=4, context=ctx)
    node = ReasoningNode(context=ctx, cli_args=[
        "--ros-args", "-p", f"backend:=scripted:{replies}", "-p", "scene.enabled:=true",
        "-p", f"scene.base_T_camera:=[0.0, 0.0, 2.5, 0.0, {PITCH}, 0.0]", "-p", "scene.frame_period_s:=0.0",
        "-p", "scene.pose_timeout_s:=30.0", "-p", "heartbeat_hz:=20.0", "-p", "scene.execute.arm_settle_s:=0.0"])
    assert node.scene is not None
    scene = node.scene
    peer = rclpy.create_node("scene_test_peer", context=ctx)
    answers: list[Answer] = []
    markers: list[MarkerArray] = []
    plans: list[PathMsg] = []
    statuses: list[ReasoningStatus] = []
    arm: list[str] = []
    peer.create_subscription(PathMsg, "nav_r1/plan", plans.append, RELIABLE_QOS)
    peer.create_subscription(String, "nav_r1/answer", lambda m: answers.append(Answer.from_json(m.data)), RELIABLE_QOS)
    peer.create_subscription(String, "nav_r1/status", lambda m: statuses.append(ReasoningStatus.from_json(m.data)),
                             RELIABLE_QOS)
    peer.create_subscription(MarkerArray, "nav_r1/grounding", markers.append, RELIABLE_QOS)
    peer.create_subscription(String, "vla_r1/instruction", lambda m: arm.append(m.data), RELIABLE_QOS)
    q_pub = peer.create_publisher(String, "nav_r1/question", RELIABLE_QOS)
    arm_status = peer.create_publisher(String, "vla_r1/status", RELIABLE_QOS)
    info_pub = peer.create_publisher(CameraInfo, "camera/color/camera_info", SENSOR_QOS)
    color_pub = peer.create_publisher(Image, "camera/color/image_raw", SENSOR_QOS)
    depth_pub = peer.create_publisher(Image, "camera/depth/image_raw", SENSOR_QOS)
    odom_pub = peer.create_publisher(Odometry, "odom", RELIABLE_QOS)  # the reasoning node subscribes reliably
    executor.add_node(node)
    executor.add_node(peer)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()

    def odom(t: float, x: float, y: float = 0.0) -> None:
        msg = Odometry()
        msg.header.stamp = sec_to_stamp(t)
        msg.header.frame_id = "odom"
        msg.pose.pose.position.x, msg.pose.pose.position.y = x, y
        msg.pose.pose.orientation.w = 1.0
        odom_pub.publish(msg)

    def ask(text: str, n: int) -> Answer:
        q_pub.publish(String(data=json.dumps({"text": text, "conversation_id": "t"})))
        wait_for(lambda: len(answers) >= n, 15.0, f"answer {n} ({text!r})")
        return answers[n - 1]

    try:
        assert wait_for(lambda: node.count_publishers("nav_r1/question") > 0
                        and peer.count_subscribers("nav_r1/question") > 0, 10.0)
        assert wait_for(lambda: peer.count_publishers("nav_r1/answer") > 0
                        and peer.count_subscribers("vla_r1/status") > 0, 10.0)
        # 1. A question before any frame: an answer that says so, no boxes (and no model call).
        a = ask("where is the red cube?", 1)
        assert a.error is not None and a.error.startswith("no_frames") and not a.objects
        # 2. A malformed question.
        q_pub.publish(String(data='{"txt": "where?"}'))
        wait_for(lambda: len(answers) >= 2, 10.0, "the bad-question answer")
        assert answers[1].error is not None and answers[1].error.startswith("bad_question")
        # 3. Frames without odometry are refused (no pose); then with odometry they are fused.
        k = np.array([[CAM.fx, 0, CAM.cx], [0, CAM.fy, CAM.cy], [0, 0, 1.0]])

        def send(t: float, with_odom: bool) -> None:
            info_pub.publish(make_camera_info(k, CAM.width, CAM.height, "camera_color_optical_frame", t))
            if with_odom:
                odom(t, base_x)
            color_pub.publish(numpy_to_image(rgb, "rgb8", t, "camera_color_optical_frame"))
            depth_pub.publish(numpy_to_image(depth, "32FC1", t, "camera_color_optical_frame"))

        for i in range(10):
            send(1.0 + 0.1 * i, with_odom=False)
            if wait_for(lambda: scene.memory.frames_refused > 0, 0.3):
                break
        assert scene.memory.frames_refused > 0 and scene.memory.empty
        for i in range(20):
            send(100.0 + 0.1 * i, with_odom=True)
            if wait_for(lambda: not scene.memory.empty, 0.3):
                break
        assert not scene.memory.empty
        # 4. The question again: the scripted model's 2D box is lifted to the cube in odom.
        a = ask("where is the red cube?", 3)
        assert a.error is None, a.error
        assert a.answer == "the red cube" and a.views_used and len(a.objects) == 1
        # Only through the right odom -> base -> camera chain does the box land on the cube.
        assert iou_3d(a.objects[0].box, CUBE) > 0.5, a.objects[0].box
        assert abs(a.objects[0].box.min[0] - 2.0) < 0.05
        wait_for(lambda: any(len(m.markers) == 3 for m in markers), 5.0, "grounding markers")
        cube = next(m for m in markers if len(m.markers) == 3).markers[1]
        assert cube.header.frame_id == "odom"
        assert math.isclose(cube.pose.position.x, a.objects[0].box.center[0], abs_tol=1e-3)
        assert not plans  # a question alone moves nothing
        # 5. "Go to the red cube": grounded, then the node's own plan from the robot to 0.6 m before the cube.
        send(110.0, with_odom=True)
        a = ask("go to the red cube", 4)
        assert a.error is None and a.action is not None and a.action["ok"], a
        wait_for(lambda: len(plans) >= 2, 5.0, "the goal plan and a heartbeat")
        goal_plan = plans[0]
        assert goal_plan.header.frame_id == "odom" and len(goal_plan.poses) == a.action["poses"]
        first, last = goal_plan.poses[0].pose, goal_plan.poses[-1].pose
        assert math.isclose(first.position.x, base_x, abs_tol=1e-6) and abs(first.position.y) < 1e-6
        assert abs(last.position.x - (a.objects[0].box.min[0] - 0.6)) < 1e-3 and abs(last.position.y) < 0.1
        assert math.isclose(last.position.x, a.action["goal"]["x"], abs_tol=1e-3)
        assert plans[1].header.stamp == goal_plan.header.stamp and plans[1].poses == goal_plan.poses  # heartbeat
        wait_for(lambda: any(s.state is ReasoningState.DIRECTED for s in statuses), 5.0, "a directed status")
        # 6. "Go to the chair" with no box in the reply: no new plan, an answer that says why.
        a = ask("go to the chair", 5)
        assert a.error is not None and a.error.startswith("no_goal") and a.action is not None
        assert not a.action["ok"] and "I cannot go to the chair" in a.answer
        assert all(p.poses == goal_plan.poses for p in plans)  # only the first goal's heartbeats
        # 7. A plan: navigate to the cube (grounded by the model, driven), then pick (sent to the arm).
        a = ask("Bring the item from the cube to me.", 6)
        assert a.error is None and a.action is not None and a.action["kind"] == "steps", a
        assert [s["kind"] for s in a.action["steps"]] == ["navigate", "pick"]
        n_plans = len(plans)
        wait_for(lambda: any((x.action or {}).get("steps", [{}])[0].get("state") == "driving" for x in answers), 15.0,
                 "the first step driving")
        driving = next(x for x in answers if (x.action or {}).get("steps", [{}])[0].get("state") == "driving")
        goal = driving.action["goal"] if driving.action else {}
        assert abs(goal["x"] - (2.0 - 0.6)) < 0.1, goal
        assert not arm  # the arm waits for the robot to arrive
        odom(200.0, goal["x"], goal["y"])  # the robot arrives
        wait_for(lambda: arm == ["pick up the item from the cube"], 10.0, "the arm instruction")
        assert len(plans) > n_plans
        arm_status.publish(String(data=json.dumps({"state": "planned", "task": "affordance",
                                                   "instruction": "pick up the item from the cube",
                                                   "duration_s": 0.2})))
        wait_for(lambda: (answers[-1].action or {}).get("state") == "done", 10.0, "the plan done")
        done = answers[-1]
        assert done.error is None and [s["state"] for s in done.action["steps"]] == ["done", "done"]  # type: ignore[index]
        assert "all 2 steps" in done.answer
        # 8. A second plan whose arm step is refused: the plan fails and the robot is told to hold.
        n = len(answers)
        ask("Bring the item from the cube to me.", n + 1)
        wait_for(lambda: any((x.action or {}).get("steps", [{}])[0].get("state") == "driving" for x in answers[n:]),
                 15.0, "the second run driving")
        odom(300.0, goal["x"], goal["y"])
        wait_for(lambda: len(arm) == 2, 10.0, "the second arm instruction")
        arm_status.publish(String(data=json.dumps({"state": "refused", "instruction": "pick up the item from the cube",
                                                   "reason": "no depth image"})))
        wait_for(lambda: (answers[-1].action or {}).get("state") == "failed", 10.0, "the failed plan")
        failed = answers[-1]
        assert failed.error is not None and "no depth image" in failed.error
        wait_for(lambda: len(plans[-1].poses) == 0, 5.0, "an empty plan: hold")
        # Garbage on vla_r1/status is ignored, the node lives on.
        arm_status.publish(String(data="not json"))
        a = ask("where is the red cube?", len(answers) + 1)
        assert a.question == "where is the red cube?"
    finally:
        executor.shutdown(timeout_sec=2.0)
        spin.join(timeout=5.0)
        node.close()
        node.destroy_node()
        peer.destroy_node()
        rclpy.shutdown(context=ctx)


def test_scene_config_and_pose_helpers_validate(tmp_path: Path) -> None:
    from nav_msgs.msg import Odometry

    from nav_r1.nodes.scene_io import SceneConfig, base_T_optical, odom_pose, scene_service
    from r1_core.params import ParamError

    with pytest.raises(ParamError, match="base_T_camera"):
        SceneConfig(base_T_camera=(0.0, 0.0, 1.0))
    with pytest.raises(ParamError, match=r"scene\.backend"):
        scene_service(SceneConfig(enabled=True), object())  # a reasoner without a model to share
    script = tmp_path / "replies.txt"
    script.write_text("<think>x</think><answer>y</answer>\n")
    with pytest.raises(ParamError, match=r"scene\.view_scorer.*/nonexistent/clip"):
        scene_service(SceneConfig(backend=f"scripted:{script}", view_scorer="clip:/nonexistent/clip"), object())
    with pytest.raises(ParamError, match=r"scene\.view_scorer.*siglip"):
        scene_service(SceneConfig(backend=f"scripted:{script}", view_scorer="siglip:/x"), object())
    assert scene_service(SceneConfig(backend=f"scripted:{script}"), object()).scorer is None
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
