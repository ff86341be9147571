"""The scene question/answer contract: typed questions, JSON answers, reply parsing, dialogue history.

``nav_r1/question`` carries plain text or ``{"text": ..., "conversation_id": ...}``; ``nav_r1/answer``
carries :meth:`Answer.to_json`. A model reply is ``<think>…</think><answer>…</answer>`` (the tag
grammar of :func:`r1_core.nav.parse.parse_response`); the answer block is either prose or a JSON object
``{"answer": "...", "objects": [{"label": "chair", "view": 3, "box_2d": [x0, y0, x1, y1]} |
{"label": "chair", "box_3d": {"center": [...], "size": [...]}}]}`` (each object may add a
``caption``, as dense captioning does). A malformed box makes the parse
fail with ``malformed_box:`` — the answer then says so instead of carrying a made-up box.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from nav_r1.scene.boxes import Box3D, BoxError
from nav_r1.scene.grounding import check_box_2d
from r1_core.jsonsafe import loads_bounded
from r1_core.nav.parse import parse_response

#: Longest question accepted (characters); longer ones are refused, not truncated.
MAX_QUESTION_CHARS = 2000
#: Longest conversation id.
MAX_ID_CHARS = 128
#: Most grounded objects read from one reply.
MAX_OBJECTS = 32


class ProtocolError(ValueError):
    """A question or answer message is malformed; the message names the field."""


@dataclass(frozen=True)
class Question:
    """A question about the scene, in a conversation (``default`` when none is given)."""

    text: str
    conversation_id: str = "default"

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text.strip():
            raise ProtocolError("question 'text' must be a non-empty string")
        if len(self.text) > MAX_QUESTION_CHARS:
            raise ProtocolError(f"question 'text' is {len(self.text)} characters, over {MAX_QUESTION_CHARS}")
        if not isinstance(self.conversation_id, str) or not self.conversation_id or \
                len(self.conversation_id) > MAX_ID_CHARS:
            raise ProtocolError(f"question 'conversation_id' must be a string of 1-{MAX_ID_CHARS} characters")

    @classmethod
    def from_message(cls, data: str) -> Question:
        """From a ``nav_r1/question`` payload: plain text, or JSON with ``text`` and ``conversation_id``."""
        body = data.strip() if isinstance(data, str) else ""
        if body.startswith("{"):
            try:
                obj = loads_bounded(body, max_chars=MAX_QUESTION_CHARS * 4)
            except json.JSONDecodeError as exc:
                raise ProtocolError(f"question JSON is invalid: {exc}") from exc
            if not isinstance(obj, dict):
                raise ProtocolError("question JSON must be an object")
            unknown = set(obj) - {"text", "conversation_id"}
            if unknown:
                raise ProtocolError(f"question JSON has unknown fields {sorted(unknown)}; "
                                    "expected text, conversation_id")
            cid = obj.get("conversation_id", "default")
            return cls(obj.get("text", ""), cid if isinstance(cid, str) else str(cid))
        return cls(body)


@dataclass(frozen=True)
class GroundedObject:
    """An object the answer refers to: label, 3D box (odom) and the view it was grounded in."""

    label: str
    box: Box3D
    view_id: int | None = None
    box_2d: tuple[float, float, float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        out: dict[str, Any] = {"label": self.label, "box": self.box.to_dict()}
        if self.view_id is not None:
            out["view"] = self.view_id
        if self.box_2d is not None:
            out["box_2d"] = [round(v, 2) for v in self.box_2d]
        return out

    @classmethod
    def from_dict(cls, data: Any, what: str = "object") -> GroundedObject:
        """Inverse of :meth:`to_dict`; :class:`ProtocolError` names the bad field."""
        if not isinstance(data, dict):
            raise ProtocolError(f"'{what}' must be an object")
        label = data.get("label")
        if not isinstance(label, str):
            raise ProtocolError(f"'{what}.label' must be a string")
        try:
            box = Box3D.from_dict(data.get("box"), f"{what}.box")
        except BoxError as exc:
            raise ProtocolError(str(exc)) from exc
        view = data.get("view")
        if view is not None and (isinstance(view, bool) or not isinstance(view, int)):
            raise ProtocolError(f"'{what}.view' must be an integer")
        b2 = data.get("box_2d")
        box_2d = None
        if b2 is not None:
            if not isinstance(b2, list) or len(b2) != 4 or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in b2):
                raise ProtocolError(f"'{what}.box_2d' must be 4 finite numbers")
            box_2d = (float(b2[0]), float(b2[1]), float(b2[2]), float(b2[3]))
        return cls(label, box, view, box_2d)


@dataclass(frozen=True)
class Answer:
    """What ``nav_r1/answer`` carries; ``error`` is set (and ``answer`` explains) when it failed."""

    question: str
    conversation_id: str
    answer: str
    reasoning: str = ""
    objects: tuple[GroundedObject, ...] = ()
    views_used: tuple[int, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    model: str = ""
    #: What the robot does about it (:mod:`nav_r1.scene.drive`): a navigation goal and its plan, or plan steps.
    action: dict[str, Any] | None = None

    def to_json(self) -> str:
        """The message text."""
        return json.dumps({
            "question": self.question, "conversation_id": self.conversation_id, "answer": self.answer,
            "reasoning": self.reasoning, "objects": [o.to_dict() for o in self.objects],
            "views_used": list(self.views_used), "timings": {k: round(v, 6) for k, v in self.timings.items()},
            "error": self.error, "model": self.model, "action": self.action,
        })

    @classmethod
    def from_json(cls, text: str) -> Answer:
        """Parse :meth:`to_json` output; :class:`ProtocolError` names the bad field."""
        try:
            d = loads_bounded(text)
        except json.JSONDecodeError as exc:
            raise ProtocolError(f"answer JSON is invalid: {exc}") from exc
        if not isinstance(d, dict):
            raise ProtocolError("answer JSON must be an object")
        for name in ("question", "conversation_id", "answer"):
            if not isinstance(d.get(name), str):
                raise ProtocolError(f"answer field '{name}' must be a string")
        objs = d.get("objects", [])
        views = d.get("views_used", [])
        timings = d.get("timings", {})
        if not isinstance(objs, list):
            raise ProtocolError("answer field 'objects' must be a list")
        if not isinstance(views, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in views):
            raise ProtocolError("answer field 'views_used' must be a list of integers")
        if not isinstance(timings, dict) or not all(isinstance(v, (int, float)) for v in timings.values()):
            raise ProtocolError("answer field 'timings' must map names to numbers")
        error = d.get("error")
        if error is not None and not isinstance(error, str):
            raise ProtocolError("answer field 'error' must be a string or null")
        action = d.get("action")
        if action is not None and not isinstance(action, dict):
            raise ProtocolError("answer field 'action' must be an object or null")
        return cls(d["question"], d["conversation_id"], d["answer"], str(d.get("reasoning", "")),
                   tuple(GroundedObject.from_dict(o, f"objects[{i}]") for i, o in enumerate(objs)),
                   tuple(views), {str(k): float(v) for k, v in timings.items()}, error, str(d.get("model", "")), action)

    @classmethod
    def failure(cls, question: Question, error: str, timings: dict[str, float] | None = None,
                reasoning: str = "", model: str = "") -> Answer:
        """An answer that says what went wrong (and carries no objects)."""
        return cls(question.text, question.conversation_id, f"I cannot answer: {error}", reasoning, (), (),
                   dict(timings or {}), error, model)


@dataclass(frozen=True)
class ReplyObject:
    """An object a model reply grounds: a 2D box in a view (to lift) or a 3D box."""

    label: str
    view_id: int | None = None
    box_2d: tuple[float, float, float, float] | None = None
    box_3d: Box3D | None = None
    caption: str = ""


@dataclass(frozen=True)
class ParsedReply:
    """A parsed model reply: answer text, reasoning, objects, or the failure."""

    ok: bool
    answer: str = ""
    reasoning: str = ""
    objects: tuple[ReplyObject, ...] = ()
    failure: str | None = None


def _reply_object(d: Any, i: int, image_size: tuple[int, int] | None) -> ReplyObject:
    if not isinstance(d, dict):
        raise ProtocolError(f"malformed_box: objects[{i}] must be an object")
    label, text = d.get("label", ""), d.get("caption", "")
    if not isinstance(label, str) or not isinstance(text, str):
        raise ProtocolError(f"malformed_box: objects[{i}].label and .caption must be strings")
    if "box_3d" in d:
        try:
            return ReplyObject(label, None, None, Box3D.from_dict(d["box_3d"], f"objects[{i}].box_3d"), text)
        except BoxError as exc:
            raise ProtocolError(f"malformed_box: {exc}") from exc
    if "box_2d" not in d:
        raise ProtocolError(f"malformed_box: objects[{i}] has neither box_2d nor box_3d")
    view = d.get("view")
    if isinstance(view, bool) or not isinstance(view, int):
        raise ProtocolError(f"malformed_box: objects[{i}].view must be the integer id of a key view")
    w, h = image_size if image_size is not None else (1 << 20, 1 << 20)
    checked = check_box_2d(d["box_2d"], w, h)
    if isinstance(checked, str):
        raise ProtocolError(checked.replace("malformed_box:", f"malformed_box: objects[{i}].box_2d:", 1))
    return ReplyObject(label, view, checked, None, text)


def parse_scene_reply(text: Any, image_size: tuple[int, int] | None = None) -> ParsedReply:
    """Parse a scene model's reply; never raises (a malformed box is ``ok=False``, ``malformed_box:``)."""
    if not isinstance(text, str):
        return ParsedReply(False, failure=f"not_text: expected a string reply, got {type(text).__name__}")
    if "<" in text:
        res = parse_response(text)
        if not res.ok:
            return ParsedReply(False, reasoning=res.reasoning, failure=res.failure)
        if res.answer is None:
            return ParsedReply(False, reasoning=res.reasoning, failure="missing_tag: no <answer> block")
        body, reasoning = res.answer, res.reasoning
    else:
        body, reasoning = text.strip(), ""
    if not body:
        return ParsedReply(False, reasoning=reasoning, failure="empty: the answer is empty")
    if not body.startswith("{"):
        return ParsedReply(True, body, reasoning)
    try:
        obj = loads_bounded(body)
    except json.JSONDecodeError as exc:
        return ParsedReply(False, reasoning=reasoning, failure=f"bad_json: the answer block is not valid JSON: {exc}")
    if not isinstance(obj, dict) or not isinstance(obj.get("answer", ""), str):
        return ParsedReply(False, reasoning=reasoning, failure="bad_json: the answer object needs a string 'answer'")
    objs = obj.get("objects", [])
    if not isinstance(objs, list) or len(objs) > MAX_OBJECTS:
        return ParsedReply(False, reasoning=reasoning,
                           failure=f"malformed_box: 'objects' must be a list of at most {MAX_OBJECTS}")
    try:
        parsed = tuple(_reply_object(d, i, image_size) for i, d in enumerate(objs))
    except ProtocolError as exc:
        return ParsedReply(False, reasoning=reasoning, failure=str(exc))
    return ParsedReply(True, obj.get("answer", ""), reasoning, parsed)


@dataclass(frozen=True)
class Turn:
    """One question and its answer text."""

    question: str
    answer: str


class ConversationHistory:
    """Recent turns per conversation id: at most ``max_turns`` each and ``max_conversations`` ids (LRU)."""

    def __init__(self, max_turns: int = 8, max_conversations: int = 64) -> None:
        if max_turns < 1 or max_conversations < 1:
            raise ValueError("max_turns and max_conversations must be at least 1")
        self.max_turns = max_turns
        self.max_conversations = max_conversations
        self._turns: OrderedDict[str, deque[Turn]] = OrderedDict()

    def add(self, conversation_id: str, question: str, answer: str) -> None:
        """Record a turn; the oldest turn (and least recently used conversation) is dropped beyond the bounds."""
        turns = self._turns.pop(conversation_id, None) or deque(maxlen=self.max_turns)
        turns.append(Turn(question, answer))
        self._turns[conversation_id] = turns
        while len(self._turns) > self.max_conversations:
            self._turns.popitem(last=False)

    def turns(self, conversation_id: str) -> list[Turn]:
        """The kept turns of a conversation, oldest first (empty when unknown)."""
        return list(self._turns.get(conversation_id, ()))

    def reset(self, conversation_id: str | None = None) -> None:
        """Forget one conversation, or all."""
        if conversation_id is None:
            self._turns.clear()
        else:
            self._turns.pop(conversation_id, None)

    def __len__(self) -> int:
        return len(self._turns)


__all__ = ["Answer", "ConversationHistory", "GroundedObject", "ParsedReply", "ProtocolError", "Question",
           "ReplyObject", "Turn", "parse_scene_reply"]
