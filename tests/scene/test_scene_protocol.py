"""Question/answer contract, reply parsing and bounded dialogue history."""

from __future__ import annotations

import json

import pytest

from nav_r1.scene.boxes import Box3D
from nav_r1.scene.protocol import (
    Answer,
    ConversationHistory,
    GroundedObject,
    ProtocolError,
    Question,
    parse_scene_reply,
)


def test_question_from_text_or_json_and_bad_fields_named() -> None:
    assert Question.from_message("how many chairs?") == Question("how many chairs?", "default")
    q = Question.from_message('{"text": "is it on?", "conversation_id": "desk"}')
    assert q.conversation_id == "desk"
    with pytest.raises(ProtocolError, match="unknown fields"):
        Question.from_message('{"text": "x", "conversation": "a"}')
    with pytest.raises(ProtocolError, match="'text'"):
        Question.from_message("   ")
    with pytest.raises(ProtocolError, match="invalid"):
        Question.from_message("{" * 5000)


def test_answer_json_roundtrip_and_validation() -> None:
    ans = Answer("where is the chair?", "c1", "in the kitchen", "I looked", (
        GroundedObject("chair", Box3D((1.0, 2.0, 0.45), (0.45, 0.45, 0.9)), 3, (10.0, 20.0, 30.0, 50.0)),),
        (3, 1), {"total_s": 0.25}, None, "expert")
    back = Answer.from_json(ans.to_json())
    assert back == ans
    bad = json.loads(ans.to_json())
    bad["objects"][0]["box"]["size"] = [1, 1]
    with pytest.raises(ProtocolError, match=r"objects\[0\]\.box\.size"):
        Answer.from_json(json.dumps(bad))
    bad = json.loads(ans.to_json())
    bad["views_used"] = ["a"]
    with pytest.raises(ProtocolError, match="views_used"):
        Answer.from_json(json.dumps(bad))
    fail = Answer.failure(Question("q"), "no_frames: nothing seen yet")
    assert fail.error and "no_frames" in fail.answer and fail.objects == ()


def test_parse_reply_prose_json_and_3d_boxes() -> None:
    prose = parse_scene_reply("<think>two chairs by the table</think><answer>2</answer>")
    assert prose.ok and prose.answer == "2" and prose.reasoning == "two chairs by the table"
    assert parse_scene_reply("2").answer == "2"
    body = {"answer": "the red chair", "objects": [
        {"label": "chair", "view": 2, "box_2d": [10, 12, 40, 50]},
        {"label": "table", "box_3d": {"center": [1, 2, 0.4], "size": [1.2, 0.8, 0.75]}}]}
    rep = parse_scene_reply(f"<think>t</think><answer>{json.dumps(body)}</answer>", image_size=(160, 120))
    assert rep.ok and rep.answer == "the red chair"
    assert rep.objects[0].view_id == 2 and rep.objects[0].box_2d == (10.0, 12.0, 40.0, 50.0)
    assert rep.objects[1].box_3d == Box3D((1, 2, 0.4), (1.2, 0.8, 0.75))


@pytest.mark.parametrize("objects, detail", [
    ([{"label": "chair", "view": 2, "box_2d": [40, 12, 10, 50]}], "x0 < x1"),
    ([{"label": "chair", "view": 2, "box_2d": [1, 2, 3]}], "box_2d"),
    ([{"label": "chair", "box_2d": [1, 2, 3, 4]}], "view"),
    ([{"label": "chair", "view": 1}], "neither"),
    ([{"label": "chair", "box_3d": {"center": [0, 0], "size": [1, 1, 1]}}], "center"),
    ([{"label": "chair", "box_3d": {"center": [0, 0, 0], "size": [1, -1, 1]}}], "size"),
    ("chair", "list"),
])
def test_malformed_boxes_fail_the_parse(objects: object, detail: str) -> None:
    text = "<think>t</think><answer>" + json.dumps({"answer": "x", "objects": objects}) + "</answer>"
    rep = parse_scene_reply(text, image_size=(160, 120))
    assert not rep.ok and rep.failure is not None and rep.failure.startswith("malformed_box")
    assert detail in rep.failure and rep.objects == ()


def test_hostile_replies_are_failures_not_exceptions() -> None:
    for text in ["<think>a</think>", "<answer>{" + "[" * 5000 + "</answer>", "<answer>{\"answer\": 3}</answer>",
                 "<think>x<answer>y</answer>", None, ""]:
        rep = parse_scene_reply(text)
        assert not rep.ok and rep.failure


def test_history_is_bounded_per_conversation_and_in_conversations() -> None:
    hist = ConversationHistory(max_turns=2, max_conversations=2)
    for i in range(3):
        hist.add("a", f"q{i}", f"a{i}")
    assert [t.question for t in hist.turns("a")] == ["q1", "q2"]
    hist.add("b", "x", "y")
    hist.add("a", "q3", "a3")  # touches a: b is now the least recently used
    hist.add("c", "z", "w")
    assert hist.turns("b") == [] and len(hist) == 2 and hist.turns("c")[0].answer == "w"
    hist.reset("a")
    assert hist.turns("a") == []
