"""Plan answers executed step by step (ROS-free): PlanRun's transitions and the SceneDirector's effects."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nav_r1.reasoning import ReasoningConfig, ReasoningCore
from nav_r1.scene.boxes import Box3D
from nav_r1.scene.director import PROGRESS_MODEL, SceneDirector
from nav_r1.scene.drive import DriveConfig, GoalPlan
from nav_r1.scene.execute import ArmRequest, Drive, ExecuteConfig, GroundRequest, PlanRun
from nav_r1.scene.goals import PlanStep
from nav_r1.scene.protocol import Answer, GroundedObject, Question
from r1_core.params import ParamError
from r1_core.reasoner import Frame, Pose2D, Response
from r1_core.reasoning_status import ReasoningState

CFG = ExecuteConfig(arrive_radius_m=0.3, navigate_timeout_s=20.0, arm_timeout_s=10.0, arm_settle_s=0.5)
STEPS = (PlanStep("navigate", "fridge", "navigate to the fridge"),
         PlanStep("pick", "fridge", "pick up the item from the fridge"),
         PlanStep("navigate", "sofa", "navigate to the sofa"),
         PlanStep("place", "sofa", "place the item on the sofa"))


def goal_at(x: float, y: float, label: str = "fridge") -> GoalPlan:
    goal = Pose2D(x, y, 0.0)
    return GoalPlan(label, label, goal, (Pose2D(0.0, 0.0, 0.0), goal))


def test_a_fetch_plan_runs_every_step_in_order() -> None:
    run = PlanRun(1, STEPS, CFG)
    assert run.start(0.0) == [GroundRequest(1, 0, "fridge")]
    assert run.tick(Pose2D(0, 0, 0), 1.0) == []  # waiting for the grounding answer
    effects = run.on_goal(0, goal_at(3.0, 0.0), 2.0)
    assert effects == [Drive("fridge", goal_at(3.0, 0.0))] and run.step_states[0] == "driving"
    assert run.tick(Pose2D(2.0, 0.0, 0.0), 3.0) == []  # 1 m short
    assert run.tick(Pose2D(2.8, 0.1, 0.0), 4.0) == [ArmRequest(1, 1, "pick up the item from the fridge")]
    # Another instruction's status, or a non-final one, does not count.
    assert run.on_arm_status({"state": "planned", "instruction": "wave", "duration_s": 0.1}, 4.1) == []
    assert run.on_arm_status({"state": "planned", "instruction": "pick up the item from the fridge",
                              "duration_s": 2.0}, 5.0) == []
    assert run.tick(None, 7.0) == []  # 2 s trajectory + 0.5 s settle from t = 5
    assert run.tick(None, 7.6) == [GroundRequest(1, 2, "sofa")]
    assert run.on_goal(2, goal_at(-1.0, 2.0, "sofa"), 8.0)[0] == Drive("sofa", goal_at(-1.0, 2.0, "sofa"))
    assert run.tick(Pose2D(-1.0, 2.0, 0.0), 9.0) == [ArmRequest(1, 3, "place the item on the sofa")]
    assert run.on_arm_status({"state": "executed", "instruction": " place the item on the sofa "}, 9.5) == []
    assert run.state == "done" and run.step_states == ["done"] * 4
    report = run.report()
    assert report["state"] == "done" and [s["state"] for s in report["steps"]] == ["done"] * 4
    assert run.tick(Pose2D(0, 0, 0), 100.0) == []  # nothing after the end


def test_an_ungroundable_waypoint_before_another_navigate_step_is_skipped_and_said() -> None:
    steps = (PlanStep("navigate", "kitchen", "navigate to the kitchen"), *STEPS)
    run = PlanRun(7, steps, CFG)
    run.start(0.0)
    effects = run.on_goal(0, "no_goal: the answer grounds no object with a valid 3D box for 'kitchen'", 1.0)
    assert effects == [GroundRequest(7, 1, "fridge")] and run.state == "running"
    report = run.report()
    assert report["steps"][0]["state"] == "skipped" and "navigate to the fridge" in report["steps"][0]["note"]
    # The last navigate before an arm step is no waypoint: failing to ground it fails the plan.
    assert run.on_goal(1, "no_goal: nothing", 2.0) == [Drive("fridge", None)] and run.state == "failed"


def test_a_failed_step_fails_the_plan_and_holds_the_robot() -> None:
    run = PlanRun(2, STEPS, CFG)
    run.start(0.0)
    assert run.on_goal(0, "no_goal: the answer grounds no object", 1.0) == [Drive("fridge", None)]
    assert run.state == "failed" and run.step_states[:2] == ["failed", "pending"]
    assert run.reason is not None and "step 1 (navigate to the fridge): no_goal" in run.reason
    # The arm refusing fails it too, and later steps are never attempted.
    run = PlanRun(3, STEPS, CFG)
    run.start(0.0)
    run.on_goal(0, goal_at(1.0, 0.0), 0.5)
    run.tick(Pose2D(1.0, 0.0, 0.0), 1.0)
    effects = run.on_arm_status({"state": "refused", "instruction": "pick up the item from the fridge",
                                 "reason": "joint_states lacks ['j1']"}, 2.0)
    assert effects == [Drive("fridge", None)] and run.state == "failed" and "joint_states lacks" in str(run.reason)
    assert run.step_states == ["done", "failed", "pending", "pending"]


@pytest.mark.parametrize(("phase", "expect"), [("grounding", "no grounding answer"),
                                               ("driving", "the goal was not reached"),
                                               ("arm", "the arm did not finish")])
def test_every_wait_has_a_timeout(phase: str, expect: str) -> None:
    run = PlanRun(4, STEPS, CFG)
    run.start(0.0)
    t0 = 0.0
    if phase in ("driving", "arm"):
        run.on_goal(0, goal_at(5.0, 0.0), 1.0)
    if phase == "arm":
        run.tick(Pose2D(5.0, 0.0, 0.0), 2.0)
        t0 = 2.0
    limit = CFG.arm_timeout_s if phase == "arm" else CFG.navigate_timeout_s
    assert run.tick(Pose2D(0.0, 0.0, 0.0), t0 + limit - 0.1) == []
    assert run.tick(Pose2D(0.0, 0.0, 0.0), t0 + limit + 0.1) == [Drive(run.step.target, None)]
    assert run.state == "failed" and expect in str(run.reason) and "timeout" in str(run.reason)


def test_late_and_garbage_inputs_change_nothing() -> None:
    run = PlanRun(5, STEPS, CFG)
    run.start(0.0)
    assert run.on_goal(2, goal_at(1.0, 0.0), 1.0) == []  # not the step being grounded
    assert run.on_arm_status({"state": "executed", "instruction": "pick up the item from the fridge"}, 1.0) == []
    run.on_goal(0, goal_at(1.0, 0.0), 1.0)
    run.tick(Pose2D(1.0, 0.0, 0.0), 2.0)
    bad = {"state": "planned", "instruction": "pick up the item from the fridge", "duration_s": math.nan}
    assert run.on_arm_status(bad, 3.0) == []  # a NaN duration counts as 0: settle time only
    assert run.tick(None, 3.4) == [] and run.tick(None, 3.6) == [GroundRequest(5, 2, "sofa")]
    run.cancel("superseded")
    assert run.state == "cancelled" and run.on_goal(2, goal_at(0.0, 0.0), 4.0) == [] and run.tick(None, 99.0) == []
    with pytest.raises(ValueError, match="at least one step"):
        PlanRun(6, (), CFG)
    with pytest.raises(ParamError, match="arrive_radius_m"):
        ExecuteConfig(arrive_radius_m=0.0)


def _answer(question: str, text: str, objects: tuple[GroundedObject, ...] = ()) -> Answer:
    return Answer(question, "c", text, objects=objects, model="m")


def test_the_director_turns_answers_into_runs_and_reports_progress() -> None:
    director = SceneDirector(DriveConfig(), CFG)
    robot = Pose2D(0.0, 0.0, 0.0)
    q = Question("Bring the item from the fridge to the sofa.", "c")
    text = "navigate to the fridge; pick up the item from the fridge"
    effects = director.on_answer(q, _answer(q.text, text), robot, 0.0)
    reply, ground = effects
    assert isinstance(reply, Answer) and reply.action is not None and reply.action["state"] == "running"
    assert isinstance(ground, GroundRequest) and ground.target == "fridge" and director.running
    assert director.step_question(ground) == Question("Find the fridge.", "plan-1")  # not the person's dialogue
    fridge = GroundedObject("fridge", Box3D((3.0, 0.0, 0.9), (0.8, 0.8, 1.8)))
    effects = director.on_step_answer(ground, _answer("Find the fridge.", "fridge", (fridge,)), robot, 1.0)
    progress, drive = effects
    assert isinstance(progress, Answer) and progress.model == PROGRESS_MODEL and progress.question == q.text
    assert progress.action is not None and progress.action["steps"][0]["state"] == "driving"
    assert isinstance(drive, Drive) and drive.plan is not None and drive.plan.goal.x == pytest.approx(3.0 - 0.4 - 0.6)
    assert director.tick(robot, 2.0) == []  # unchanged: no progress answer
    # A go-to question cancels the run: a last progress answer, then the reply and its Drive.
    go = Question("go to the fridge", "c")
    assert director.asked(go) == Question("Find the fridge.", "c")
    effects = director.on_answer(go, _answer("Find the fridge.", "fridge", (fridge,)), robot, 3.0)
    cancelled, reply, drive = effects
    assert isinstance(cancelled, Answer) and cancelled.action is not None and cancelled.action["state"] == "cancelled"
    assert isinstance(reply, Answer) and reply.question == "go to the fridge" and isinstance(drive, Drive)
    assert not director.running and director.tick(robot, 4.0) == [] and director.cancel("x") == []
    # A late step answer for the cancelled run is ignored; a plain answer starts nothing.
    assert director.on_step_answer(ground, _answer("Find the fridge.", "fridge", (fridge,)), robot, 5.0) == []
    assert director.on_answer(Question("How many chairs?"), _answer("How many chairs?", "3"), robot, 6.0) == [
        _answer("How many chairs?", "3")]


def test_the_director_reports_a_failed_plan_as_an_error() -> None:
    director = SceneDirector(DriveConfig(), CFG)
    q = Question("Bring the item from the fridge to the sofa.", "c")
    _, ground = director.on_answer(q, _answer(q.text, "navigate to the fridge; pick up the item from the fridge"),
                                   None, 0.0)
    assert isinstance(ground, GroundRequest)
    effects = director.on_step_answer(ground, _answer("Find the fridge.", "I see no fridge"), None, 1.0)
    failed, hold = effects
    assert isinstance(failed, Answer) and failed.error is not None and failed.error.startswith("plan_failed")
    assert "step 1/2" in failed.answer and hold == Drive("fridge", None) and not director.running


def test_a_directed_plan_replaces_the_instruction_and_drops_the_reply_in_flight() -> None:
    core = ReasoningCore(ReasoningConfig(backend="scripted:x"))
    core.set_instruction("go down the hall", 0.0)
    core.on_odom(Pose2D(0.0, 0.0, 0.0), 0.0, 0.0)
    core.on_frame(Frame(rgb=np.zeros((4, 4, 3), dtype=np.uint8), stamp=0.0))
    obs = core.observe(0.1)
    poses = (Pose2D(0.0, 0.0, 0.0), Pose2D(1.0, 0.0, 0.0))
    outcome = core.direct("go to the fridge", poses, 0.2)
    assert outcome.publish_plan and outcome.poses == poses and outcome.status.state is ReasoningState.DIRECTED
    assert outcome.status.instruction == "go to the fridge" and core.plan[1] == poses
    assert core.on_reply(obs, Response("<action>stop</action>", "m"), 0.3) is None  # superseded
    assert core.blocked_reason(0.4) == "no instruction"  # no model call drives over the directed goal
    hold = core.direct("hold", (), 0.5)
    assert hold.stop and hold.poses == () and core.stopped
    assert core.set_instruction("go down the hall", 0.6) and not core.stopped  # an instruction takes back over
