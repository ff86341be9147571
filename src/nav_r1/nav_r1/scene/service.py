"""Answer questions about what the robot has seen: memory -> view selection -> reasoner -> grounding.

The ROS-free core of the reasoning node's question interface (:mod:`nav_r1.nodes.scene_io`).
:meth:`SceneService.ask` never raises on message content: a question before any frame, a reasoner
failure, a malformed reply or a box that cannot be lifted is an :class:`Answer` whose ``error``
says what happened; a box is only reported when it was lifted
from real depth or given in 3D by the model.

Thread ownership: the memory is written by the sensor callbacks and read here; the node serialises
both with a lock (``SceneInterface._memory_lock``); this class does not lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from nav_r1.scene.grounding import LiftConfig, lift_box
from nav_r1.scene.memory import SceneMemory
from nav_r1.scene.protocol import Answer, ConversationHistory, GroundedObject, Question, parse_scene_reply
from nav_r1.scene.reasoners import SceneQuery, SceneReasoner
from nav_r1.scene.views import ViewScorer, select_views
from r1_core.params import param, validate_params


@dataclass(frozen=True)
class ServiceConfig:
    """How questions are answered."""

    views_per_question: int = param(4, "Key views given to the reasoner per question", min=1, max=16)
    relevance_weight: float = param(0.5, "Weight of question relevance vs coverage (with a view scorer)",
                                    min=0.0, max=1.0)
    max_turns: int = param(8, "Turns of dialogue history kept per conversation", min=1, max=64)
    max_conversations: int = param(64, "Conversations kept (least recently used dropped)", min=1, max=10_000)

    def __post_init__(self) -> None:
        validate_params(self)


class SceneService:
    """Answers :class:`Question` s from a :class:`SceneMemory` with a :class:`SceneReasoner`."""

    def __init__(self, reasoner: SceneReasoner, memory: SceneMemory, config: ServiceConfig | None = None,
                 scorer: ViewScorer | None = None, lift: LiftConfig | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.reasoner = reasoner
        self.memory = memory
        self.config = config or ServiceConfig()
        self.scorer = scorer
        self.lift = lift or LiftConfig()
        self.history = ConversationHistory(self.config.max_turns, self.config.max_conversations)
        self._clock = clock

    def ask(self, question: Question) -> Answer:
        """One answer (never raises on content; see the module docstring)."""
        t0 = self._clock()
        timings: dict[str, float] = {}
        if self.memory.empty:
            return Answer.failure(question, "no_frames: no RGB-D frame with a pose has been fused yet",
                                  {"total_s": self._clock() - t0}, model=self.reasoner.name)
        points = self.memory.points()
        selection = select_views(points, self.memory.key_views(), self.config.views_per_question, question.text,
                                 self.scorer, self.config.relevance_weight)
        views = [v for vid in selection.view_ids if (v := self.memory.key_view(vid)) is not None]
        t1 = self._clock()
        timings["select_s"] = t1 - t0
        query = SceneQuery(question.text, "live", tuple(v.view_id for v in views), (),
                           tuple(self.history.turns(question.conversation_id)), {}, tuple(v.rgb for v in views))
        try:
            text = self.reasoner.reply(query)
        except Exception as exc:  # model servers fail; the robot answers that it could not think
            timings.update(reason_s=self._clock() - t1, total_s=self._clock() - t0)
            return Answer.failure(question, f"reasoner_error: {type(exc).__name__}: {str(exc)[:200]}", timings,
                                  model=self.reasoner.name)
        t2 = self._clock()
        timings["reason_s"] = t2 - t1
        size = (views[0].intrinsics.width, views[0].intrinsics.height) if views else None
        parsed = parse_scene_reply(text, size)
        if not parsed.ok:
            timings["total_s"] = self._clock() - t0
            return Answer.failure(question, str(parsed.failure), timings, parsed.reasoning, self.reasoner.name)
        objects: list[GroundedObject] = []
        problems: list[str] = []
        for obj in parsed.objects:
            if obj.box_3d is not None:
                objects.append(GroundedObject(obj.label, obj.box_3d))
                continue
            view = self.memory.key_view(obj.view_id) if obj.view_id is not None else None
            if view is None or obj.view_id not in selection.view_ids:
                problems.append(f"{obj.label}: unknown_view: view {obj.view_id} was not shown")
                continue
            lifted = lift_box(view, obj.box_2d, points, self.lift)
            if lifted.box is None:
                problems.append(f"{obj.label}: {lifted.error}")
            else:
                objects.append(GroundedObject(obj.label, lifted.box, view.view_id, obj.box_2d))
        timings["ground_s"] = self._clock() - t2
        self.history.add(question.conversation_id, question.text, parsed.answer)
        answer, error = parsed.answer, None
        if problems:
            error = "grounding_failed: " + "; ".join(problems)
            answer = f"{parsed.answer} (I could not locate: {'; '.join(problems)})"
        timings["total_s"] = self._clock() - t0
        return Answer(question.text, question.conversation_id, answer, parsed.reasoning, tuple(objects),
                      selection.view_ids, timings, error, self.reasoner.name)


__all__ = ["SceneService", "ServiceConfig"]
