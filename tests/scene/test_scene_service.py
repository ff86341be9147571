"""The question service (memory -> views -> reasoner -> grounding) and the model-backed reasoner."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
from scene_world import tiny_frame

from nav_r1.scene.boxes import Box3D, iou_3d
from nav_r1.scene.memory import SceneMemory
from nav_r1.scene.procedural import visible_box_2d
from nav_r1.scene.protocol import Answer, Question
from nav_r1.scene.reasoners import SceneQuery, VLMSceneReasoner, scene_messages
from nav_r1.scene.service import SceneService, ServiceConfig
from r1_core.backends.scripted import ScriptedVLM
from r1_core.reasoner import ChatMessage, Response

CUBE = Box3D((2.5, 0.0, 0.5), (1.0, 1.0, 1.0))


class Scripted:
    """A reasoner that replies from a list and records the queries it saw."""

    name = "scripted-test"
    privileged = False

    def __init__(self, replies: Sequence[str]) -> None:
        self.replies = list(replies)
        self.queries: list[SceneQuery] = []

    def reset(self) -> None:
        pass

    def reply(self, query: SceneQuery) -> str:
        self.queries.append(query)
        return self.replies.pop(0)


def _memory() -> tuple[SceneMemory, tuple[float, float, float, float]]:
    memory = SceneMemory()
    frame, inst = tiny_frame()
    memory.add_frame(frame)
    memory.add_frame(tiny_frame((0.8, -1.5, 1.2), (2.5, 0.0, 0.5))[0])
    box = visible_box_2d(inst, 0)
    assert box is not None
    return memory, box


def _box_reply(view: int, box: Sequence[float]) -> str:
    return "<think>the red cube</think><answer>" + json.dumps(
        {"answer": "the red cube", "objects": [{"label": "cube", "view": view, "box_2d": list(box)}]}) + "</answer>"


def test_question_before_any_frame_says_so() -> None:
    reasoner = Scripted(["<think>x</think><answer>2</answer>"])
    answer = SceneService(reasoner, SceneMemory()).ask(Question("how many cubes?"))
    assert answer.error is not None and answer.error.startswith("no_frames") and answer.objects == ()
    assert reasoner.queries == []  # the model is not asked about nothing


def test_grounded_answer_lifts_the_box_and_reports_views_and_timings() -> None:
    memory, box = _memory()
    service = SceneService(Scripted([_box_reply(0, box)]), memory, ServiceConfig(views_per_question=2))
    answer = service.ask(Question("where is the red cube?", "c1"))
    assert answer.error is None and answer.answer == "the red cube" and answer.reasoning == "the red cube"
    assert len(answer.objects) == 1 and iou_3d(answer.objects[0].box, CUBE) > 0.5
    assert answer.objects[0].view_id == 0 and set(answer.views_used) == {0, 1}
    assert {"select_s", "reason_s", "ground_s", "total_s"} <= set(answer.timings)
    assert Answer.from_json(answer.to_json()).to_json() == answer.to_json()


def test_malformed_box_and_unliftable_box_never_become_boxes() -> None:
    memory, box = _memory()
    bad = "<think>t</think><answer>" + json.dumps(
        {"answer": "x", "objects": [{"label": "cube", "view": 0, "box_2d": [50, 10, 5, 40]}]}) + "</answer>"
    view = memory.key_views()[0]
    v, u = np.argwhere(view.depth == 0)[0]
    sky = _box_reply(0, [int(u), int(v), int(u) + 2, int(v) + 2])
    unknown = _box_reply(7, box)
    service = SceneService(Scripted([bad, sky, unknown]), memory)
    a = service.ask(Question("where?"))
    assert a.error is not None and a.error.startswith("malformed_box") and a.objects == ()
    assert "cannot answer" in a.answer
    b = service.ask(Question("where?"))
    assert b.error is not None and b.error.startswith("grounding_failed") and "no_depth" in b.error
    assert b.objects == () and "could not locate" in b.answer
    c = service.ask(Question("where?"))
    assert c.error is not None and "unknown_view" in c.error and c.objects == ()


def test_dialogue_history_is_per_conversation() -> None:
    memory, _ = _memory()
    reasoner = Scripted(["<think>a</think><answer>yes</answer>", "<think>b</think><answer>red</answer>",
                         "<think>c</think><answer>no</answer>"])
    service = SceneService(reasoner, memory)
    service.ask(Question("is there a cube?", "desk"))
    service.ask(Question("what colour is it?", "desk"))
    service.ask(Question("is there a lamp?", "other"))
    assert [t.answer for t in reasoner.queries[1].history] == ["yes"]
    assert reasoner.queries[2].history == ()
    assert all(len(q.rgb) == len(q.view_ids) > 0 for q in reasoner.queries)


def test_reasoner_errors_become_answers() -> None:
    memory, _ = _memory()

    class Broken(Scripted):
        def reply(self, query: SceneQuery) -> str:
            raise TimeoutError("server did not answer in 5 s")

    answer = SceneService(Broken([]), memory).ask(Question("how many?"))
    assert answer.error is not None and answer.error.startswith("reasoner_error: TimeoutError")


class FailingVLM:
    name = "down"

    def generate(self, messages: Sequence[ChatMessage]) -> Response:
        return Response.failure("down", "connection refused")


def test_vlm_reasoner_builds_a_3d_r1_chat_and_reports_backend_failures() -> None:
    memory, box = _memory()
    backend = ScriptedVLM([_box_reply(0, box)])
    answer = SceneService(VLMSceneReasoner(backend), memory).ask(Question("find the cube"))
    assert answer.error is None and answer.model == "scripted" and len(answer.objects) == 1
    views = memory.key_views()
    msgs = scene_messages(SceneQuery("find the cube", "live", (0, 1), (), (), {}, (views[0].rgb, views[1].rgb)))
    assert msgs[0].role == "system" and "<answer>" in msgs[0].text()
    assert len(msgs[-1].images()) == 2 and "View 1:" in msgs[-1].text() and "Question: find the cube" in msgs[-1].text()
    failed = SceneService(VLMSceneReasoner(FailingVLM()), memory).ask(Question("find the cube"))
    assert failed.error is not None and "connection refused" in failed.error
