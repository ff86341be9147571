"""Scene reasoners: the privileged expert (upper bound), its 2D-box variant and a blind control.

One small contract, :class:`SceneReasoner`: ``reply(query) -> str`` (the model text
``<think>…</think><answer>…</answer>``) and ``reset()``. A model-backed reasoner implements the same
two methods; the evaluator and the node never know which they hold.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from nav_r1.scene.procedural import object_box
from nav_r1.scene.protocol import Turn
from nav_r1.scene.tasks import ProgramError, caption, execute, find_object
from r1_core.reasoner import ChatMessage, VLMBackend
from r1_sim.scene import Scene


@dataclass(frozen=True)
class SceneQuery:
    """One question as a reasoner sees it; ``privileged`` (labels, program) is for experts only."""

    question: str
    scene: str
    view_ids: tuple[int, ...] = ()
    images: tuple[str, ...] = ()
    history: tuple[Turn, ...] = ()
    privileged: Mapping[str, Any] = field(default_factory=dict)
    rgb: tuple[NDArray[np.uint8], ...] = ()  # the views' colour images, in ``view_ids`` order


class SceneReasonerError(RuntimeError):
    """A reasoner could not produce a reply (model server down, generation failed)."""


class SceneReasoner(Protocol):
    """Answers scene questions with model text."""

    name: str
    privileged: bool

    def reply(self, query: SceneQuery) -> str:
        """The reply text for one question."""
        ...

    def reset(self) -> None:
        """Forget per-episode state."""
        ...


def _reply(think: str, answer: str) -> str:
    return f"<think>{think}</think><answer>{answer}</answer>"


class ExpertReasoner:
    """Answers from the scene's labels by executing the row's program: the upper bound of the data."""

    name = "expert"
    #: The evaluator passes the whole row (program, labels' view and box) only to privileged reasoners.
    privileged = True

    def __init__(self, scenes: Callable[[str], Scene], boxes_2d: bool = False) -> None:
        self._scenes = scenes
        # With boxes_2d, grounding answers give the object's visible 2D box in its best view, so the
        # evaluator lifts it through depth and the fused cloud (the robot's path) instead of copying labels.
        self.boxes_2d = boxes_2d
        if boxes_2d:
            self.name = "expert2d"

    def reset(self) -> None:
        """Stateless."""

    def reply(self, query: SceneQuery) -> str:
        """Execute the privileged program; an unknown program is an answer that says so."""
        program = query.privileged.get("program", {})
        try:
            scene = self._scenes(query.scene)
            op = program.get("op") if isinstance(program, dict) else None
            if op == "locate":
                obj = find_object(scene, str(program.get("object")))
                item: dict[str, Any] = {"label": obj.label}
                if self.boxes_2d:
                    item.update(view=query.privileged.get("view"), box_2d=query.privileged.get("box_2d"))
                else:
                    item["box_3d"] = object_box(obj.box).to_dict()
                return _reply(f"The labels place the {obj.label} in the {obj.room}.",
                              json.dumps({"answer": obj.label, "objects": [item]}))
            if op == "dense":
                objs = [find_object(scene, str(o["object_id"])) for o in query.privileged.get("objects", [])]
                items = [{"label": o.label, "box_3d": object_box(o.box).to_dict(), "caption": caption(scene, o)}
                         for o in objs]
                return _reply(f"The labels list {len(items)} objects here.",
                              json.dumps({"answer": f"{len(items)} objects", "objects": items}))
            return _reply("Answered from the scene labels.", execute(scene, program))
        except (ProgramError, KeyError, TypeError, ValueError) as exc:
            return _reply(f"The labels cannot answer this: {exc}", "unknown")


class BlindReasoner:
    """A control that never looks at the scene: the most frequent training answer per question type."""

    name = "blind"
    #: Sees only the question, its task and question type (what the question's template reveals).
    privileged = False

    def __init__(self, train_rows: Sequence[Mapping[str, Any]]) -> None:
        by_type: dict[str, Counter[str]] = defaultdict(Counter)
        for row in train_rows:
            if row.get("task") == "dialogue":
                for turn in row.get("turns", []):
                    by_type[f"dialogue/{turn['qtype']}"][turn["answer"]] += 1
            else:
                by_type[f"{row['task']}/{row.get('qtype')}"][str(row.get("answer", ""))] += 1
        self._majority = {k: c.most_common(1)[0][0] for k, c in by_type.items()}
        self._turn_types = {"Is there": "exists", "What colour": "colour", "How tall": "height",
                            "What is next": "nearest", "Which room has": "rooms"}

    def reset(self) -> None:
        """Stateless."""

    def reply(self, query: SceneQuery) -> str:
        """The majority answer of the question's type (the task and type a question template reveals)."""
        task = str(query.privileged.get("task", ""))
        qtype = str(query.privileged.get("qtype", ""))
        if task == "dialogue" or query.history:
            qtype = next((t for p, t in self._turn_types.items() if query.question.startswith(p)), "exists")
            task = "dialogue"
        return _reply("I answer without looking at the scene.", self._majority.get(f"{task}/{qtype}", "unknown"))


SYSTEM_PROMPT = (
    "You are a robot's 3D scene assistant. You see numbered views of the scene around the robot. "
    "Think step by step inside <think></think>, then answer inside <answer></answer>. For counting, "
    "attributes and yes/no questions answer with a word or number. To point at objects, answer with JSON: "
    '{"answer": "...", "objects": [{"label": "chair", "view": <view number>, "box_2d": [x0, y0, x1, y1]}]} '
    "with the box in that view's pixels. For a task, answer with its steps separated by semicolons."
)


def scene_messages(query: SceneQuery) -> list[ChatMessage]:
    """3D-R1-style chat: system prompt, earlier turns, then the views (labelled by id) and the question."""
    if len(query.rgb) != len(query.view_ids):
        raise ValueError(f"{len(query.rgb)} images for {len(query.view_ids)} view ids")
    messages = [ChatMessage("system", (SYSTEM_PROMPT,))]
    for turn in query.history:
        messages += [ChatMessage("user", (turn.question,)), ChatMessage("assistant", (turn.answer,))]
    content: list[str | NDArray[np.uint8]] = []
    for vid, img in zip(query.view_ids, query.rgb, strict=True):
        content += [f"View {vid}:", img]
    content.append(f"Question: {query.question}")
    messages.append(ChatMessage("user", tuple(content)))
    return messages


class VLMSceneReasoner:
    """A model behind any r1_core VLM backend (local transformers, OpenAI-compatible server, scripted)."""

    privileged = False

    def __init__(self, backend: VLMBackend) -> None:
        self._backend = backend
        self.name = backend.name

    def reset(self) -> None:
        """The backend keeps no state; dialogue history comes with each query."""

    def reply(self, query: SceneQuery) -> str:
        """The model's text; :class:`SceneReasonerError` when the backend reports a failure."""
        response = self._backend.generate(scene_messages(query))
        if response.error is not None:
            raise SceneReasonerError(response.error)
        return response.text


__all__ = ["SYSTEM_PROMPT", "BlindReasoner", "ExpertReasoner", "SceneQuery", "SceneReasoner", "SceneReasonerError",
           "VLMSceneReasoner", "scene_messages"]
