"""Nav-R1's Nav-CoT prompt: instruction, history views, current view, action options, format.

The structure follows Nav-CoT-110K (arXiv 2509.10884): the instruction; up to five history views
("Images 1-5", oldest first) and the current view ("Image 6"); the feasible action options; and the
format requirement ``<think>…</think><action>…</action>``.  The wording is ours: the released
rows carry the fields (``instruction``, ``history_images``, ``action_space``), not a template.
"""

from __future__ import annotations

from collections.abc import Sequence

from r1_core.nav.actions import NAV_R1_ACTION_SPACE
from r1_core.reasoner import ChatMessage, ImageArray, Observation

SYSTEM_PROMPT = (
    "You are an embodied navigation agent. You see the world through an egocentric camera and "
    "move with discrete actions. Reason step by step about what you see and what the instruction "
    "asks, then choose the next action."
)


def _image_span(first: int, last: int) -> str:
    return f"Image {first}" if first == last else f"Images {first}-{last}"


class NavPrompt:
    """A :class:`~r1_core.reasoner.PromptBuilder` producing Nav-R1's prompt for one observation."""

    def __init__(
        self,
        action_space: Sequence[str] = NAV_R1_ACTION_SPACE,
        max_history: int = 5,
        system_prompt: str = SYSTEM_PROMPT,
        max_actions_per_reply: int = 1,
    ) -> None:
        if not action_space:
            raise ValueError("action_space must list at least one action")
        if max_history < 0:
            raise ValueError(f"max_history must be >= 0, got {max_history}")
        if max_actions_per_reply < 1:
            raise ValueError(f"max_actions_per_reply must be >= 1, got {max_actions_per_reply}")
        self.action_space = tuple(action_space)
        self.max_history = max_history
        self.system_prompt = system_prompt
        self.max_actions_per_reply = max_actions_per_reply

    def build(self, observation: Observation) -> list[ChatMessage]:
        """System and user turns: text interleaved with the history and current frames."""
        instruction = observation.instruction.strip()
        if not instruction:
            raise ValueError("the observation has an empty instruction")
        history = observation.history[-self.max_history :] if self.max_history else ()
        n_hist = len(history)
        current = n_hist + 1

        parts: list[str | ImageArray] = [f"Instruction: {instruction}\n"]
        if n_hist:
            if n_hist == 1:
                parts.append("Image 1 is your previous view:\n")
            else:
                parts.append(f"{_image_span(1, n_hist)} are your previous views, oldest first:\n")
            for i, frame in enumerate(history, start=1):
                parts.extend((f"Image {i}: ", frame.rgb, "\n"))
        parts.extend((f"Image {current} is your current view: ", observation.frame.rgb, "\n"))
        options = ", ".join(f"'{a}'" for a in self.action_space)
        parts.append(f"Feasible actions: {options}.\n")
        if self.max_actions_per_reply == 1:
            count = "the single next action"
        else:
            count = f"the next 1 to {self.max_actions_per_reply} actions, separated by commas,"
        parts.append(
            "Think about where you are, what you have done and where the instruction leads, then "
            f"choose {count} from the feasible actions. Output your reasoning inside <think></think> "
            "and the action inside <action></action>, for example "
            f"<think>...</think><action>{self.action_space[0]}</action>."
        )
        return [
            ChatMessage(role="system", content=(self.system_prompt,)),
            ChatMessage(role="user", content=tuple(parts)),
        ]
