"""What the robot does about a scene answer: nothing, drive to a grounded goal, or run a plan's steps.

:class:`SceneDirector` is the ROS-free layer between the scene service (which answers) and the
robot (which moves). The owner asks :meth:`SceneDirector.asked` what to put to the reasoner (a
go-to question is asked in the grounding form the data teaches, "Find the red chair."), runs the
model, and hands the answer to :meth:`SceneDirector.on_answer`. Every method returns *effects* in
order: :class:`~nav_r1.scene.protocol.Answer` s to publish on ``nav_r1/answer`` (the reply itself,
then one progress answer each time a plan run changes state), and the run's
:class:`~nav_r1.scene.execute.Drive`, :class:`~nav_r1.scene.execute.ArmRequest` and
:class:`~nav_r1.scene.execute.GroundRequest` effects.

- "Go to the red chair": a grounded box becomes a :class:`Drive` with the goal plan
  (:mod:`nav_r1.scene.drive`); no box, no goal (``no_goal:``) and no Drive.
- An answer that parses as a plan starts a :class:`~nav_r1.scene.execute.PlanRun`; its progress
  answers carry the same question and conversation id, with ``action`` = the run's report.
- A new go-to or plan cancels the run in progress; so does the owner's :meth:`cancel` (a new
  navigation instruction). Plain questions do not.

Time is an argument; the director holds no lock and starts no thread (the reasoning node calls it
under its one lock; see :mod:`nav_r1.nodes.scene_io`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from nav_r1.scene.drive import DriveConfig, goal_plan, navigation_target, resolve_action
from nav_r1.scene.execute import ArmRequest, Drive, Effect, ExecuteConfig, GroundRequest, PlanRun
from nav_r1.scene.goals import PlanStep
from nav_r1.scene.protocol import Answer, Question
from r1_core.reasoner import Pose2D

DirectorEffect = Answer | Effect
#: ``Answer.model`` of a plan run's progress answers (they carry no boxes of their own).
PROGRESS_MODEL = "plan-executor"


def grounding_question(target: str, conversation_id: str) -> Question:
    """The question that grounds ``target`` ("Find the red chair."), as the data asks it."""
    return Question(f"Find the {target}.", conversation_id)


class SceneDirector:
    """Scene answers -> robot effects, one plan run at a time."""

    def __init__(self, drive: DriveConfig | None = None, execute: ExecuteConfig | None = None) -> None:
        self.drive = drive or DriveConfig()
        self.execute = execute or ExecuteConfig()
        self.run: PlanRun | None = None
        self._run_question: Question | None = None
        self._runs = 0

    def asked(self, question: Question) -> Question:
        """What to ask the reasoner for ``question`` (a go-to becomes its grounding question)."""
        target = navigation_target(question.text)
        return question if target is None else grounding_question(target, question.conversation_id)

    def step_question(self, request: GroundRequest) -> Question:
        """The grounding question of a plan step (its own conversation, so the person's dialogue stays clean)."""
        return grounding_question(request.target, f"plan-{request.run_id}")

    def on_answer(self, question: Question, answer: Answer, robot: Pose2D | None,
                  now: float) -> list[DirectorEffect]:
        """The reply to ``question`` (asked as :meth:`asked` said) and what the robot does about it."""
        answer, plan = resolve_action(dataclasses.replace(answer, question=question.text), robot, self.drive)
        action = answer.action or {}
        if action.get("kind") == "navigate":
            out: list[DirectorEffect] = self._cancel_run("superseded by a go-to question")
            out.append(answer)
            if plan is not None:
                out.append(Drive(plan.label, plan))
            return out
        if action.get("kind") == "steps":
            out = self._cancel_run("superseded by a new plan")
            steps = tuple(PlanStep(s["kind"], s["target"], s["text"]) for s in action["steps"])
            self._runs += 1
            self.run, self._run_question = PlanRun(self._runs, steps, self.execute), question
            effects = self.run.start(now)
            out.append(dataclasses.replace(answer, action=self.run.report()))
            return out + list(effects)
        return [answer]

    def on_step_answer(self, request: GroundRequest, answer: Answer, robot: Pose2D | None,
                       now: float) -> list[DirectorEffect]:
        """The grounding answer for a plan step: drive to its goal, or fail the plan."""
        run = self.run
        if run is None or run.run_id != request.run_id:
            return []
        found = goal_plan(request.target, answer, robot, self.drive)
        return self._step(lambda: run.on_goal(request.step, found, now))

    def on_arm_status(self, status: Mapping[str, Any], now: float) -> list[DirectorEffect]:
        """A ``vla_r1/status`` record."""
        run = self.run
        return [] if run is None else self._step(lambda: run.on_arm_status(status, now))

    def tick(self, robot: Pose2D | None, now: float) -> list[DirectorEffect]:
        """Arrival, settle times and timeouts of the run in progress."""
        run = self.run
        return [] if run is None else self._step(lambda: run.tick(robot, now))

    def cancel(self, reason: str) -> list[DirectorEffect]:
        """Stop the run in progress (a new navigation instruction took over); its last progress answer."""
        return self._cancel_run(reason)

    @property
    def running(self) -> bool:
        """True while a plan run is executing."""
        return self.run is not None and self.run.state == "running"

    def _cancel_run(self, reason: str) -> list[DirectorEffect]:
        run = self.run
        if run is None or run.state != "running":
            return []

        def apply() -> list[Effect]:
            run.cancel(reason)
            return []

        return self._step(apply)

    def _step(self, apply: Callable[[], list[Effect]]) -> list[DirectorEffect]:
        """Apply one run transition; a progress answer first when the run's report changed."""
        run, question = self.run, self._run_question
        assert run is not None and question is not None
        before = run.report()
        effects = apply()
        after = run.report()
        out: list[DirectorEffect] = []
        if after != before:
            out.append(progress_answer(question, after))
        if run.state != "running":
            self.run, self._run_question = None, None
        return out + list(effects)


def progress_answer(question: Question, report: dict[str, Any]) -> Answer:
    """A ``nav_r1/answer`` saying where a plan run stands (``error`` set when it failed)."""
    n, i = len(report["steps"]), report["current"]
    state = report["state"]
    if state == "done":
        text = f"Done: all {n} steps executed."
    elif state == "running":
        step = report["steps"][i]
        text = f"Step {i + 1}/{n} ({step['text']}): {step['state']}."
    else:
        text = f"Plan {state} at step {min(i + 1, n)}/{n}: {report.get('reason', '')}"
    error = f"plan_failed: {report.get('reason', '')}" if state == "failed" else None
    return Answer(question.text, question.conversation_id, text, error=error, model=PROGRESS_MODEL, action=report)


__all__ = ["PROGRESS_MODEL", "ArmRequest", "DirectorEffect", "Drive", "GroundRequest", "SceneDirector",
           "grounding_question", "progress_answer"]
