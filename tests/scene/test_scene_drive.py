"""Grounding drives the robot (ROS-free): go-to questions -> grounded box -> goal + plan, or why not."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import pytest
from scene_world import tiny_frame

from nav_r1.scene.boxes import Box3D
from nav_r1.scene.director import Drive, SceneDirector
from nav_r1.scene.drive import DriveConfig, navigation_target, resolve_action, straight_plan
from nav_r1.scene.memory import SceneMemory
from nav_r1.scene.procedural import visible_box_2d
from nav_r1.scene.protocol import Answer, GroundedObject, Question
from nav_r1.scene.reasoners import SceneQuery
from nav_r1.scene.service import SceneService
from r1_core.params import ParamError
from r1_core.reasoner import Pose2D

CUBE = Box3D((2.5, 0.0, 0.5), (1.0, 1.0, 1.0))
CFG = DriveConfig()


class Scripted:
    """A reasoner that replies from a list and records the questions it saw."""

    name = "scripted-test"
    privileged = False

    def __init__(self, replies: Sequence[str]) -> None:
        self.replies = list(replies)
        self.questions: list[str] = []

    def reset(self) -> None:
        pass

    def reply(self, query: SceneQuery) -> str:
        self.questions.append(query.question)
        return self.replies.pop(0)


def _answer(question: str, objects: tuple[GroundedObject, ...] = (), error: str | None = None,
            text: str = "chair") -> Answer:
    return Answer(question, "default", text, objects=objects, error=error)


@pytest.mark.parametrize(("question", "target"), [
    ("go to the red chair", "red chair"), ("Please navigate to the sofa in the kitchen.", "sofa in the kitchen"),
    ("Take me to the fridge!", "fridge"), ("drive towards the blue plant, please", "blue plant"),
    ("How many chairs are there?", None), ("what is next to the go-kart", None), ("go to", None),
])
def test_go_to_questions_name_their_target(question: str, target: str | None) -> None:
    assert navigation_target(question) == target


def test_a_grounded_box_becomes_an_approach_goal_and_a_straight_plan() -> None:
    chair = GroundedObject("chair", CUBE)
    robot = Pose2D(0.0, 0.0, 0.3)
    answer, plan = resolve_action(_answer("go to the red chair", (chair,)), robot, CFG)
    assert plan is not None and answer.error is None
    # 0.6 m outside the footprint (x = 2.0) on the robot's side, facing the box
    assert plan.goal.x == pytest.approx(1.4) and plan.goal.y == pytest.approx(0.0) and plan.goal.yaw == pytest.approx(0)
    assert plan.poses[0] == robot and plan.poses[-1] == plan.goal
    gaps = [math.hypot(b.x - a.x, b.y - a.y) for a, b in zip(plan.poses, plan.poses[1:], strict=False)]
    assert max(gaps) <= CFG.pose_spacing_m + 1e-9 and sum(gaps) == pytest.approx(1.4)
    assert answer.action is not None and answer.action["ok"] and answer.action["label"] == "chair"
    assert answer.action["goal"] == {"x": 1.4, "y": 0.0, "yaw": 0.0}
    assert json.loads(answer.to_json())["action"]["poses"] == len(plan.poses)
    assert Answer.from_json(answer.to_json()).action == answer.action


def test_the_object_named_in_the_command_is_chosen() -> None:
    objs = (GroundedObject("table", Box3D((0.0, 3.0, 0.4), (1.0, 1.0, 0.8))), GroundedObject("chair", CUBE))
    _, plan = resolve_action(_answer("go to the chair", objs), Pose2D(0.0, 0.0, 0.0), CFG)
    assert plan is not None and plan.label == "chair"


@pytest.mark.parametrize(("answer", "robot", "reason"), [
    (_answer("go to the chair", (), error="grounding_failed: no depth"), Pose2D(0, 0, 0), "could not be grounded"),
    (_answer("go to the chair"), Pose2D(0, 0, 0), "grounds no object"),
    (_answer("go to the chair", (GroundedObject("chair", Box3D((2, 0, 0), (0, 0, 0))),)), Pose2D(0, 0, 0),
     "grounds no object"),
    (_answer("go to the chair", (GroundedObject("chair", CUBE),)), None, "no odometry"),
    (_answer("go to the chair", (GroundedObject("chair", Box3D((40, 0, 0), (1, 1, 1))),)), Pose2D(0, 0, 0),
     "max_goal_distance_m"),
])
def test_no_valid_box_is_an_answer_that_says_why_never_a_goal(answer: Answer, robot: Pose2D | None,
                                                               reason: str) -> None:
    out, plan = resolve_action(answer, robot, CFG)
    assert plan is None
    assert out.error is not None and (out.error.startswith("no_goal") or out.error == answer.error)
    assert out.action is not None and out.action["ok"] is False and reason in out.action["reason"]
    assert out.answer.startswith("I cannot go to the chair") and reason in out.answer
    assert "goal" not in out.action


def test_a_planning_answer_exposes_typed_steps() -> None:
    text = "navigate to the kitchen; pick up the item from the fridge; navigate to the sofa; place the item on the sofa"
    out, plan = resolve_action(_answer("Bring the item from the fridge to the sofa.", text=text), None, CFG)
    assert plan is None and out.error is None and out.action is not None
    assert [(s["kind"], s["target"]) for s in out.action["steps"]] == [
        ("navigate", "kitchen"), ("pick", "fridge"), ("navigate", "sofa"), ("place", "sofa")]
    # a plain answer, or a plan with a step no skill matches, gets no action
    assert resolve_action(_answer("How many chairs?", text="3"), None, CFG)[0].action is None
    assert resolve_action(_answer("Plan it", text="navigate to the hall; dance"), None, CFG)[0].action is None


def test_straight_plan_and_config_bounds() -> None:
    poses = straight_plan(Pose2D(0, 0, 1.0), Pose2D(0.0, 0.0, 2.0), 0.25)
    assert len(poses) == 2 and poses[-1].yaw == 2.0  # already there: turn in place
    with pytest.raises(ParamError, match="pose_spacing_m"):
        DriveConfig(pose_spacing_m=0.0)


def test_service_grounds_a_go_to_through_depth_and_plans_to_it() -> None:
    memory = SceneMemory()
    frame, inst = tiny_frame()
    memory.add_frame(frame)
    box = visible_box_2d(inst, 0)
    assert box is not None
    reply = "<think>the red cube</think><answer>" + json.dumps(
        {"answer": "cube", "objects": [{"label": "cube", "view": 0, "box_2d": list(box)}]}) + "</answer>"
    reasoner = Scripted([reply, "<think>x</think><answer>I see no chair</answer>"])
    service = SceneService(reasoner, memory)
    director = SceneDirector(CFG)
    robot = Pose2D(0.0, 0.0, 0.0)

    def ask(text: str) -> list[object]:
        question = Question(text, "c1")
        return list(director.on_answer(question, service.ask(director.asked(question)), robot, 0.0))

    answer, drive = ask("go to the red cube")
    assert reasoner.questions == ["Find the red cube."]  # asked in the grounding form the data teaches
    assert isinstance(answer, Answer) and isinstance(drive, Drive) and drive.plan is not None
    assert answer.question == "go to the red cube" and answer.error is None
    assert drive.plan.goal.x == pytest.approx(2.0 - CFG.standoff_m, abs=0.1) and abs(drive.plan.goal.y) < 0.1
    (answer,) = ask("go to the chair")  # no box: an answer that says why, and no Drive
    assert isinstance(answer, Answer) and answer.error is not None and answer.error.startswith("no_goal")


def test_answer_action_field_is_validated() -> None:
    from nav_r1.scene.protocol import ProtocolError

    d = json.loads(_answer("go to the chair").to_json())
    assert d["action"] is None
    d["action"] = ["navigate"]
    with pytest.raises(ProtocolError, match="'action'"):
        Answer.from_json(json.dumps(d))
