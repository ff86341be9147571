"""Grounding drives the robot: "go to the red chair" -> a grounded box -> a goal and a plan in odom.

:func:`navigation_target` recognises a go-to question. :func:`resolve_action` then reads the
answer the scene service gave: with a valid grounded box it computes the approach pose
(:func:`nav_r1.scene.goals.approach_pose`) and a straight-line plan of poses from the robot to it
(what the reasoning node publishes on ``nav_r1/plan``, the control node following it with its
stop zones); without one the answer carries ``no_goal:`` and says why, and there is no plan -- never a
made-up goal. Any other answer that reads as a plan ("navigate to the kitchen; pick up the item
from the fridge; ...") gets its typed steps in ``action`` (:func:`nav_r1.scene.goals.parse_plan`),
which :mod:`nav_r1.scene.execute` runs one at a time. No obstacle-aware path planning: the line is
guarded only by the control node's stop zones.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

from nav_r1.scene.boxes import Box3D
from nav_r1.scene.goals import approach_pose, parse_plan
from nav_r1.scene.protocol import Answer
from r1_core.params import param, validate_params
from r1_core.reasoner import Pose2D

_GO_TO = re.compile(
    r"^\s*(?:please\s+)?(?:go|navigate|drive|move|head|walk|take\s+me)\s+(?:over\s+)?(?:to|towards)\s+"
    r"(?:the\s+)?(?P<target>[^?!.]+?)\s*(?:,?\s*please)?\s*[.!?]*\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class DriveConfig:
    """How a grounded box becomes a goal and a plan."""

    standoff_m: float = param(0.6, "Goal distance outside the object's footprint [m]", min=0.0, max=5.0)
    max_goal_distance_m: float = param(15.0, "A goal farther from the robot than this is refused [m]",
                                       min=0.1, max=1000.0)
    pose_spacing_m: float = param(0.25, "Spacing of the plan's poses along the line to the goal [m]",
                                  min=0.05, max=5.0)

    def __post_init__(self) -> None:
        validate_params(self)


@dataclass(frozen=True)
class GoalPlan:
    """A navigation goal for a grounded object and the poses (odom frame) that lead there."""

    target: str
    label: str
    goal: Pose2D
    poses: tuple[Pose2D, ...]


def navigation_target(question: str) -> str | None:
    """The object phrase of a go-to question ("go to the red chair" -> "red chair"), else None."""
    m = _GO_TO.match(question) if isinstance(question, str) else None
    return m.group("target").strip() if m else None


def _valid_box(box: Box3D) -> bool:
    return all(math.isfinite(v) for v in (*box.center, *box.size)) and min(box.size[:2]) > 0


def straight_plan(start: Pose2D, goal: Pose2D, spacing_m: float) -> tuple[Pose2D, ...]:
    """The start, poses every ``spacing_m`` along the line (facing along it), then the goal."""
    dx, dy = goal.x - start.x, goal.y - start.y
    dist = math.hypot(dx, dy)
    heading = math.atan2(dy, dx) if dist > 1e-9 else goal.yaw
    n = max(math.ceil(dist / spacing_m), 1)
    middle = tuple(Pose2D(start.x + dx * i / n, start.y + dy * i / n, heading, start.z) for i in range(1, n))
    return (start, *middle, Pose2D(goal.x, goal.y, goal.yaw, start.z))


def goal_plan(target: str, answer: Answer, robot: Pose2D | None, cfg: DriveConfig) -> GoalPlan | str:
    """The goal and plan for ``target`` from the answer's grounded box, or why there is none (``no_goal:``)."""
    if answer.error:
        return f"no_goal: the question could not be grounded ({answer.error})"
    if robot is None:
        return "no_goal: no odometry, so the robot's pose is unknown"
    boxes = [o for o in answer.objects if _valid_box(o.box)]
    if not boxes:
        return f"no_goal: the answer grounds no object with a valid 3D box for '{target}'"
    words = set(target.lower().split())
    obj = next((o for o in boxes if set(o.label.lower().split()) & words), boxes[0])
    p = approach_pose(obj.box, (robot.x, robot.y), cfg.standoff_m)
    goal = Pose2D(p.x, p.y, p.yaw, robot.z)
    dist = math.hypot(goal.x - robot.x, goal.y - robot.y)
    if dist > cfg.max_goal_distance_m:
        return f"no_goal: the {obj.label} is {dist:.1f} m away, more than max_goal_distance_m {cfg.max_goal_distance_m}"
    return GoalPlan(target, obj.label, goal, straight_plan(robot, goal, cfg.pose_spacing_m))


def resolve_action(answer: Answer, robot: Pose2D | None, cfg: DriveConfig) -> tuple[Answer, GoalPlan | None]:
    """The answer with its ``action`` (and ``no_goal:`` error when a go-to cannot be grounded), and the plan."""
    target = navigation_target(answer.question)
    if target is not None:
        found = goal_plan(target, answer, robot, cfg)
        if isinstance(found, str):
            text = f"I cannot go to the {target}: {found.split(': ', 1)[1]}."
            action = {"kind": "navigate", "target": target, "ok": False, "reason": found}
            return dataclasses.replace(answer, answer=text, error=answer.error or found, action=action), None
        g = found.goal
        text = f"Going to the {found.label}: goal ({g.x:.2f}, {g.y:.2f}) m in odom, {len(found.poses)} plan poses."
        action = {"kind": "navigate", "target": target, "ok": True, "label": found.label,
                  "goal": {"x": round(g.x, 3), "y": round(g.y, 3), "yaw": round(g.yaw, 4)}, "poses": len(found.poses)}
        return dataclasses.replace(answer, answer=text, action=action), found
    if answer.error:
        return answer, None
    plan = parse_plan(answer.answer)
    if plan.error is not None or not plan.steps:
        return answer, None
    steps = [{"kind": s.kind, "target": s.target, "text": s.text} for s in plan.steps]
    return dataclasses.replace(answer, action={"kind": "steps", "steps": steps}), None


__all__ = ["DriveConfig", "GoalPlan", "goal_plan", "navigation_target", "resolve_action",
           "straight_plan"]
