"""Prompts for VLA-R1's two tasks, as :class:`r1_core.reasoner.PromptBuilder` implementations."""

from __future__ import annotations

from collections.abc import Sequence

from r1_core.reasoner import ChatMessage, Observation

SYSTEM = (
    "You are a robot arm's reasoning module. Look at the image, think about the task step by step, "
    "then answer. Write your reasoning inside <think> </think> and only the final answer inside "
    "<output> </output>."
)

AFFORDANCE_REQUEST = (
    "Task: {instruction}\n"
    "Give the region of the object to grasp as a bounding box in JSON: "
    '{{"x": centre x, "y": centre y, "width": w, "height": h}}, all normalised to [0, 1] '
    "of the image width and height."
)

TRAJECTORY_REQUEST = (
    "Task: {instruction}\n"
    "Give the gripper's path in the image as a JSON list of waypoints [[x1, y1], [x2, y2], ...], "
    "from where the gripper is now to where it should end, normalised to [0, 1] of the image width "
    "and height."
)


def _check(observation: Observation, task: str) -> str:
    instruction = observation.instruction.strip()
    if not instruction:
        raise ValueError("the instruction is empty")
    wanted = observation.extra.get("task", task)
    if wanted != task:
        raise ValueError(f"observation asks for task '{wanted}' but this prompt builds '{task}'")
    return instruction


class AffordancePrompt:
    """Asks for the box of the object to grasp."""

    task = "affordance"

    def build(self, observation: Observation) -> Sequence[ChatMessage]:
        """System rules, then the image and the affordance request."""
        instruction = _check(observation, self.task)
        return (
            ChatMessage("system", (SYSTEM,)),
            ChatMessage("user", (observation.frame.rgb, AFFORDANCE_REQUEST.format(instruction=instruction))),
        )


class TrajectoryPrompt:
    """Asks for the end effector's path as image waypoints."""

    task = "trajectory"

    def build(self, observation: Observation) -> Sequence[ChatMessage]:
        """System rules, then the image and the trajectory request."""
        instruction = _check(observation, self.task)
        return (
            ChatMessage("system", (SYSTEM,)),
            ChatMessage("user", (observation.frame.rgb, TRAJECTORY_REQUEST.format(instruction=instruction))),
        )


class TaskPrompt:
    """Dispatches on ``observation.extra["task"]`` to the affordance or trajectory prompt."""

    def __init__(self) -> None:
        self._prompts: dict[str, AffordancePrompt | TrajectoryPrompt] = {
            "affordance": AffordancePrompt(),
            "trajectory": TrajectoryPrompt(),
        }

    def build(self, observation: Observation) -> Sequence[ChatMessage]:
        """The chat for the observation's task; ValueError for a missing or unknown task."""
        task = observation.extra.get("task")
        if task not in self._prompts:
            raise ValueError(f"observation.extra['task'] must be 'affordance' or 'trajectory', got {task!r}")
        return self._prompts[str(task)].build(observation)


def task_for_instruction(instruction: str, default: str = "affordance") -> tuple[str, str]:
    """Split an optional ``affordance:`` / ``trajectory:`` prefix off an instruction; (task, text)."""
    head, sep, rest = instruction.partition(":")
    if sep and head.strip().lower() in ("affordance", "trajectory"):
        return head.strip().lower(), rest.strip()
    return default, instruction.strip()
