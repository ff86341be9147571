"""Grounded boxes to approach poses; planning answers to typed steps."""

from __future__ import annotations

import math

import pytest

from nav_r1.scene.boxes import Box3D
from nav_r1.scene.goals import approach_pose, parse_plan
from nav_r1.scene.tasks import plan_steps
from r1_sim.scene import load_scene


def test_approach_pose_is_outside_the_box_towards_the_robot_and_faces_it() -> None:
    box = Box3D((2.0, 1.0, 0.45), (1.0, 0.6, 0.9))
    pose = approach_pose(box, (5.0, 1.0), standoff_m=0.5)
    assert pose.x == pytest.approx(2.5 + 0.5) and pose.y == pytest.approx(1.0)
    assert pose.yaw == pytest.approx(math.pi)
    below = approach_pose(box, (2.0, -3.0), standoff_m=0.4)
    assert below.x == pytest.approx(2.0) and below.y == pytest.approx(1.0 - 0.3 - 0.4)
    assert below.yaw == pytest.approx(math.pi / 2)
    diag = approach_pose(box, (10.0, 10.0), standoff_m=0.6)
    # The ray towards the robot leaves through the top edge (y = 1.3); the goal is 0.6 m further along it.
    ux, uy = 8 / math.hypot(8, 9), 9 / math.hypot(8, 9)
    exit_x = 2.0 + 8 * (0.3 / 9)
    assert diag.x == pytest.approx(exit_x + 0.6 * ux) and diag.y == pytest.approx(1.3 + 0.6 * uy)
    assert diag.yaw == pytest.approx(math.atan2(1.0 - diag.y, 2.0 - diag.x))
    with pytest.raises(ValueError):
        approach_pose(box, (math.nan, 0.0))


def test_generated_plans_parse_into_navigation_and_arm_steps() -> None:
    scene = load_scene("apartment_4room")
    fridge = next(o for o in scene.objects if o.label == "fridge")
    sofa = next(o for o in scene.objects if o.label == "sofa")
    plan = parse_plan("; ".join(plan_steps(scene, fridge, sofa)))
    assert plan.error is None
    assert [s.kind for s in plan.steps] == ["navigate", "navigate", "pick", "navigate", "navigate", "place"]
    assert plan.steps[1].target == "fridge" and plan.steps[-1].target == "sofa"
    numbered = parse_plan("1. go to the kitchen\n2. grab the item from the counter.\n")
    assert [s.kind for s in numbered.steps] == ["navigate", "pick"]


@pytest.mark.parametrize("bad, code", [("", "bad_plan"), ("navigate to the fridge; dance", "unknown_step"),
                                       (";".join(["go to the sofa"] * 40), "bad_plan"), (None, "bad_plan")])
def test_bad_plans_fail_whole(bad: object, code: str) -> None:
    plan = parse_plan(bad)  # type: ignore[arg-type]
    assert plan.steps == () and plan.error is not None and plan.error.startswith(code)
