"""Scene questions drive a robot: the reasoning and control nodes as processes around a kinematic robot.

``scene:=true`` in the graph description; the scripted model grounds "the box" as a 3D box 3 m
ahead. "Go to the box" must bring the robot (moved only by the control node's cmd_vel) to the
approach pose; a two-step plan must drive there again, hand the pick to the arm (a fake arm node
answering on vla_r1/status) and report done.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from fake_robot import robot_with_graph
from helpers import wait_for
from std_msgs.msg import String

from nav_r1.graph import build_graph
from r1_core.ros.qos import RELIABLE_QOS

pytestmark = pytest.mark.ros

BOX = {"center": [3.0, 0.0, 0.5], "size": [0.5, 0.5, 1.0]}
GOAL_X = 3.0 - 0.25 - 0.6  # box front face minus drive.standoff_m


def _reply(answer: object) -> str:
    body = answer if isinstance(answer, str) else json.dumps(answer)
    return f"<think>Looking at the views.</think><answer>{body}</answer>"


def test_go_to_and_a_plan_move_the_robot_and_the_arm(tmp_path: Path, ros_context) -> None:
    boxed = _reply({"answer": "the box", "objects": [{"label": "box", "box_3d": BOX}]})
    plan = _reply("navigate to the box; pick up the item from the box")
    replies = tmp_path / "replies.txt"
    # The first question answered with fused frames, the go-to, the plan, the plan step's grounding.
    replies.write_text("\n".join([_reply("a box"), boxed, plan, boxed]) + "\n")
    specs = build_graph({"robot": "wheeled", "reasoner": f"scripted:{replies}", "depth": "none", "scene": "true"})
    (reasoning,) = [s for s in specs if s.role == "reasoning"]
    assert reasoning.parameters["scene"]["enabled"] is True
    with robot_with_graph(specs, tmp_path, ros_context) as (_, robot):
        n = robot.node
        answers: list[dict] = []
        arm: list[str] = []
        n.create_subscription(String, "nav_r1/answer", lambda m: answers.append(json.loads(m.data)), RELIABLE_QOS)
        n.create_subscription(String, "vla_r1/instruction", lambda m: arm.append(m.data), RELIABLE_QOS)
        ask = n.create_publisher(String, "nav_r1/question", RELIABLE_QOS)
        arm_status = n.create_publisher(String, "vla_r1/status", RELIABLE_QOS)
        wait_for(lambda: n.count_subscribers("nav_r1/question") > 0 and n.count_subscribers("vla_r1/status") > 0
                 and n.count_publishers("nav_r1/answer") > 0, 60.0, "the reasoning node's question interface")
        # Frames are fused once the node sees camera_info, colour, depth and odometry together; until then
        # the answer is no_frames (no model call). One question at a time, so one reply is used.
        for i in range(60):
            ask.publish(String(data="What is in front of you?"))
            wait_for(lambda n_asked=i + 1: len(answers) >= n_asked, 10.0, "an answer")
            if answers[-1]["error"] is None:
                break
            wait_for(lambda: False, 0.5)
        assert answers[-1]["error"] is None and answers[-1]["answer"] == "a box", answers[-1]
        answers.clear()
        start = (robot.x, robot.y)
        ask.publish(String(data="go to the box"))
        wait_for(lambda: bool(answers), 30.0, "the go-to answer")
        go = answers[0]
        assert go["error"] is None and go["action"]["ok"], go
        assert go["action"]["goal"]["x"] == pytest.approx(GOAL_X, abs=1e-3)
        wait_for(lambda: math.hypot(robot.x - GOAL_X, robot.y) < 0.15 and abs(robot.v) < 0.02, 60.0,
                 f"the robot at the box (now {robot.x:.2f}, {robot.y:.2f}; from {start})")
        assert any(s["state"] == "directed" for s in robot.status)
        # Back off by hand, then the plan: ground the box again, drive there, then the arm.
        robot.x, robot.y = 0.0, 0.0
        ask.publish(String(data="Bring me the item from the box."))
        wait_for(lambda: arm == ["pick up the item from the box"], 90.0,
                 f"the arm step after the drive (robot at {robot.x:.2f}, {robot.y:.2f}; answers {answers[1:]})")
        assert math.hypot(robot.x - GOAL_X, robot.y) < 0.3  # execute.arrive_radius_m
        arm_status.publish(String(data=json.dumps({"state": "executed", "task": "affordance",
                                                   "instruction": "pick up the item from the box"})))
        wait_for(lambda: answers[-1]["action"] is not None and answers[-1]["action"].get("state") == "done", 20.0,
                 f"the plan reported done ({answers[-1]})")
        states = [a["action"]["steps"][0]["state"] for a in answers[1:] if a["action"]]
        assert states[:3] == ["grounding", "driving", "done"], states
