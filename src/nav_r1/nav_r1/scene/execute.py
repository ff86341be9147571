"""A planning answer executed step by step: navigate steps through grounding, arm steps through vla_r1.

:class:`PlanRun` is the ROS-free state machine for one plan ("navigate to the fridge; pick up the
item from the fridge; navigate to the sofa; place the item on the sofa"). It takes time as an
argument and returns *effects* for its owner to carry out; it never calls a model or a publisher:

- a navigate step asks for its target to be grounded (:class:`GroundRequest`: the owner asks the
  scene reasoner "Find the fridge." and hands the goal, or why there is none, to :meth:`PlanRun.on_goal`),
  then drives there (:class:`Drive` with the goal plan) and is done when the robot is within
  ``arrive_radius_m`` of the goal;
- a pick or place step sends the step's text to the arm (:class:`ArmRequest` -> ``vla_r1/instruction``)
  and is done when ``vla_r1/status`` for that instruction says ``executed``, or ``planned`` plus the
  trajectory's ``duration_s`` and ``arm_settle_s``; ``refused`` or ``error`` fails the plan.

A step that cannot be grounded, times out or is refused fails the whole plan (the later steps are
not attempted: a fetch whose pick failed must not place) and the robot is told to hold
(:class:`Drive` without a plan). One exception, reported and never silent: a navigate step that
cannot be grounded and is followed by another navigate step is a coarse waypoint the next step
covers ("navigate to the kitchen; navigate to the fridge": the data's plans name the room first,
and a room has no box to ground), so it is marked ``skipped`` with the reason and the run goes on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from nav_r1.scene.drive import GoalPlan
from nav_r1.scene.goals import PlanStep
from r1_core.params import param, validate_params
from r1_core.reasoner import Pose2D


@dataclass(frozen=True)
class ExecuteConfig:
    """How plan steps are executed and when they have failed."""

    arrive_radius_m: float = param(0.3, "A navigate step is done within this distance of its goal [m]",
                                   min=0.01, max=5.0)
    navigate_timeout_s: float = param(180.0, "A navigate step not done within this fails the plan [s]",
                                      min=1.0, max=3600.0)
    arm_timeout_s: float = param(60.0, "An arm step without a final vla_r1/status within this fails the plan [s]",
                                 min=1.0, max=3600.0)
    arm_settle_s: float = param(1.0, "Wait after a planned arm trajectory's duration before the next step [s]",
                                min=0.0, max=60.0)

    def __post_init__(self) -> None:
        validate_params(self)


@dataclass(frozen=True)
class GroundRequest:
    """Ground ``target`` for step ``step`` of run ``run_id``, then call :meth:`PlanRun.on_goal`."""

    run_id: int
    step: int
    target: str


@dataclass(frozen=True)
class Drive:
    """Follow ``plan`` (a goal for ``label``); without a plan: hold where the robot is."""

    label: str
    plan: GoalPlan | None


@dataclass(frozen=True)
class ArmRequest:
    """Send ``text`` to the arm node (``vla_r1/instruction``)."""

    run_id: int
    step: int
    text: str


Effect = GroundRequest | Drive | ArmRequest
StepState = Literal["pending", "grounding", "driving", "arm", "done", "skipped", "failed"]
RunState = Literal["running", "done", "failed", "cancelled"]


class PlanRun:
    """One plan's execution; owned by one caller at a time (see :class:`nav_r1.scene.director.SceneDirector`)."""

    def __init__(self, run_id: int, steps: Sequence[PlanStep], cfg: ExecuteConfig) -> None:
        if not steps:
            raise ValueError("a plan run needs at least one step")
        self.run_id = run_id
        self.steps = tuple(steps)
        self.cfg = cfg
        self.state: RunState = "running"
        self.index = 0
        self.step_states: list[StepState] = ["pending"] * len(self.steps)
        self.notes: dict[int, str] = {}  # why a step was skipped
        self.reason: str | None = None
        self.goal: GoalPlan | None = None
        self._deadline = math.inf
        self._arm_done_at = math.inf

    @property
    def step(self) -> PlanStep:
        """The step being executed (the last one once the run ended)."""
        return self.steps[min(self.index, len(self.steps) - 1)]

    def start(self, now: float) -> list[Effect]:
        """Begin with the first step."""
        return self._begin(now)

    def _begin(self, now: float) -> list[Effect]:
        if self.index >= len(self.steps):
            self.state = "done"
            return []
        step = self.steps[self.index]
        self.goal, self._arm_done_at = None, math.inf
        if step.kind == "navigate":
            self.step_states[self.index] = "grounding"
            self._deadline = now + self.cfg.navigate_timeout_s
            return [GroundRequest(self.run_id, self.index, step.target)]
        self.step_states[self.index] = "arm"
        self._deadline = now + self.cfg.arm_timeout_s
        return [ArmRequest(self.run_id, self.index, step.text)]

    def _advance(self, now: float) -> list[Effect]:
        self.step_states[self.index] = "done"
        self.index += 1
        return self._begin(now)

    def _fail(self, reason: str) -> list[Effect]:
        self.step_states[self.index] = "failed"
        self.state, self.reason = "failed", f"step {self.index + 1} ({self.step.text}): {reason}"
        return [Drive(self.step.target, None)]

    def on_goal(self, step: int, found: GoalPlan | str, now: float) -> list[Effect]:
        """The grounding of ``step``'s target: a goal to drive to, or why there is none (fails the plan)."""
        if self.state != "running" or step != self.index or self.step_states[step] != "grounding":
            return []  # a late answer for a step no longer waiting (cancelled, timed out)
        if isinstance(found, str):
            following = self.steps[step + 1] if step + 1 < len(self.steps) else None
            if following is None or following.kind != "navigate":
                return self._fail(found)
            self.notes[step] = f"{found}; the next step ({following.text}) goes on from here"
            self.step_states[step] = "skipped"
            self.index += 1
            return self._begin(now)
        self.goal = found
        self.step_states[step] = "driving"
        return [Drive(found.label, found)]

    def on_arm_status(self, status: Mapping[str, Any], now: float) -> list[Effect]:
        """A ``vla_r1/status`` record; only the one for the current arm step's instruction counts."""
        if self.state != "running" or self.step_states[self.index] != "arm":
            return []
        if str(status.get("instruction", "")).strip() != self.step.text.strip():
            return []
        state = status.get("state")
        if state == "executed":
            return self._advance(now)
        if state == "planned":
            duration = status.get("duration_s", 0.0)
            duration = float(duration) if isinstance(duration, (int, float)) and math.isfinite(duration) else 0.0
            self._arm_done_at = now + max(duration, 0.0) + self.cfg.arm_settle_s
            return []
        if state in ("refused", "error"):
            return self._fail(f"the arm {state}: {status.get('reason') or 'no reason given'}")
        return []

    def tick(self, robot: Pose2D | None, now: float) -> list[Effect]:
        """Arrival, the arm's settle time and timeouts; ``robot`` None when odometry is stale."""
        if self.state != "running":
            return []
        phase = self.step_states[self.index]
        if phase == "driving" and self.goal is not None and robot is not None:
            g = self.goal.goal
            if math.hypot(g.x - robot.x, g.y - robot.y) <= self.cfg.arrive_radius_m:
                return self._advance(now)
        if phase == "arm" and now >= self._arm_done_at:
            return self._advance(now)
        if now > self._deadline:
            what = {"grounding": "no grounding answer", "driving": "the goal was not reached",
                    "arm": "the arm did not finish"}.get(phase, "no progress")
            limit = self.cfg.arm_timeout_s if phase == "arm" else self.cfg.navigate_timeout_s
            return self._fail(f"timeout: {what} within {limit:.0f} s")
        return []

    def cancel(self, reason: str) -> None:
        """Stop executing (a new instruction or question took over); no further effects."""
        if self.state == "running":
            self.state, self.reason = "cancelled", reason

    def report(self) -> dict[str, Any]:
        """The run as ``Answer.action``: its state, the current step and every step's state."""
        out: dict[str, Any] = {
            "kind": "steps", "run": self.run_id, "state": self.state, "current": self.index,
            "steps": [{"kind": s.kind, "target": s.target, "text": s.text, "state": st}
                      | ({"note": self.notes[i]} if i in self.notes else {})
                      for i, (s, st) in enumerate(zip(self.steps, self.step_states, strict=True))],
        }
        if self.reason is not None:
            out["reason"] = self.reason
        if self.goal is not None and self.state == "running":
            g = self.goal.goal
            out["goal"] = {"x": round(g.x, 3), "y": round(g.y, 3), "yaw": round(g.yaw, 4)}
        return out


__all__ = ["ArmRequest", "Drive", "Effect", "ExecuteConfig", "GroundRequest", "PlanRun"]
