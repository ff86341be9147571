"""From scene answers to robot goals: an approach pose for a grounded box, and plan steps by skill.

"Go to the red chair" grounds to a 3D box; :func:`approach_pose` turns it into a navigation goal on
the robot's side of the box, ``standoff_m`` from its footprint, facing it. A planning answer
("navigate to the kitchen; pick up the item from the fridge; ...") becomes typed
:class:`PlanStep` s for the navigation and arm nodes; a step that matches no skill fails the whole
plan with its text, rather than being skipped. :mod:`nav_r1.scene.drive` turns a go-to answer into
a goal and a plan the reasoning node drives; :mod:`nav_r1.scene.execute` runs plan steps in order
(navigation through grounding, pick and place through the arm node).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from nav_r1.scene.boxes import Box3D


@dataclass(frozen=True)
class Pose2D:
    """A goal in the odom frame: x, y [m] and yaw [rad]."""

    x: float
    y: float
    yaw: float


def approach_pose(box: Box3D, robot_xy: tuple[float, float], standoff_m: float = 0.6) -> Pose2D:
    """The point ``standoff_m`` outside the box's footprint towards the robot, facing the box centre."""
    if not standoff_m >= 0 or not all(math.isfinite(v) for v in robot_xy):
        raise ValueError(f"standoff_m must be >= 0 and robot_xy finite, got {standoff_m}, {robot_xy}")
    cx, cy, _ = box.center
    hx, hy = box.size[0] / 2, box.size[1] / 2
    dx, dy = robot_xy[0] - cx, robot_xy[1] - cy
    if math.hypot(dx, dy) < 1e-9:
        dx, dy = 1.0, 0.0  # robot at the centre: approach from +x
    # Leave the footprint along the ray towards the robot, then keep the standoff.
    t_exit = min(hx / abs(dx) if abs(dx) > 1e-12 else math.inf, hy / abs(dy) if abs(dy) > 1e-12 else math.inf)
    norm = math.hypot(dx, dy)
    ex, ey = cx + dx * t_exit, cy + dy * t_exit
    gx, gy = ex + standoff_m * dx / norm, ey + standoff_m * dy / norm
    return Pose2D(gx, gy, math.atan2(cy - gy, cx - gx))


StepKind = Literal["navigate", "pick", "place"]


@dataclass(frozen=True)
class PlanStep:
    """One executable step: navigate to a target, or an arm skill on a target."""

    kind: StepKind
    target: str
    text: str


@dataclass(frozen=True)
class ParsedPlan:
    """The steps of a planning answer, or why it could not be read."""

    steps: tuple[PlanStep, ...]
    error: str | None = None


_STEP_PATTERNS: tuple[tuple[StepKind, re.Pattern[str]], ...] = (
    ("navigate", re.compile(r"^(?:navigate|go|walk|drive|move)\s+to\s+(?:the\s+)?(?P<target>.+)$", re.IGNORECASE)),
    ("pick", re.compile(r"^(?:pick\s+up|grab|take)\s+(?:the\s+)?item\s+from\s+(?:the\s+)?(?P<target>.+)$",
                        re.IGNORECASE)),
    ("place", re.compile(r"^(?:place|put)\s+(?:the\s+)?item\s+(?:on|in|onto)\s+(?:the\s+)?(?P<target>.+)$",
                         re.IGNORECASE)),
)
MAX_STEPS = 32


def parse_plan(answer: str) -> ParsedPlan:
    """Steps of ``"a; b; c"`` (or one per line, optionally numbered); never raises."""
    if not isinstance(answer, str):
        return ParsedPlan((), "bad_plan: the answer is not text")
    parts = [re.sub(r"^\s*\d+[.)]\s*", "", p).strip().rstrip(".") for p in re.split(r"[;\n]", answer)]
    parts = [p for p in parts if p]
    if not parts:
        return ParsedPlan((), "bad_plan: no steps")
    if len(parts) > MAX_STEPS:
        return ParsedPlan((), f"bad_plan: {len(parts)} steps, more than {MAX_STEPS}")
    steps = []
    for i, text in enumerate(parts):
        for kind, pattern in _STEP_PATTERNS:
            m = pattern.match(text)
            if m:
                steps.append(PlanStep(kind, m.group("target").strip(), text))
                break
        else:
            return ParsedPlan((), f"unknown_step: step {i + 1} '{text[:60]}' matches no navigation or arm skill")
    return ParsedPlan(tuple(steps))


__all__ = ["ParsedPlan", "PlanStep", "Pose2D", "approach_pose", "parse_plan"]
