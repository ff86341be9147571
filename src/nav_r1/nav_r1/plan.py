"""Turn parsed actions into a plan of poses in the odometry frame (what ``nav_r1/plan`` carries)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from r1_core.geometry import wrap_angle
from r1_core.nav.actions import Action
from r1_core.reasoner import Pose2D


def actions_to_poses(start: Pose2D, actions: Sequence[Action]) -> tuple[Pose2D, ...]:
    """The start pose followed by the pose after each action; actions after ``stop`` are dropped.

    An empty tuple means "stop and hold": the reply was ``stop`` alone (or nothing to execute).
    Forward steps move along the heading at that point, turns change yaw in place (left is
    positive, REP-103), ascend/descend change ``z``.
    """
    poses = [start]
    x, y, z, yaw = start.x, start.y, start.z, start.yaw
    for action in actions:
        if action.kind == "stop":
            break
        if action.kind == "forward":
            x += action.value * math.cos(yaw)
            y += action.value * math.sin(yaw)
        elif action.is_turn:
            yaw = wrap_angle(yaw + action.yaw_rad)
        elif action.kind == "up":
            z += action.value
        elif action.kind == "down":
            z -= action.value
        poses.append(Pose2D(x=x, y=y, yaw=yaw, z=z))
    return tuple(poses) if len(poses) > 1 else ()


def ends_with_stop(actions: Sequence[Action]) -> bool:
    """True when the reply asks the robot to stop (the episode's end for an evaluator)."""
    return any(a.kind == "stop" for a in actions)


__all__ = ["actions_to_poses", "ends_with_stop"]
