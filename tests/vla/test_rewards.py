"""Rewards and trajectory metrics on hand-computed cases."""

import math

import numpy as np
import pytest

from vla_r1.parse import Box
from vla_r1.rewards import (
    ALAF_NORMALISER,
    affordance_reward,
    alaf_distance,
    discrete_frechet,
    format_reward,
    giou,
    hausdorff,
    iou,
    rmse,
    total_reward,
    trajectory_reward,
)


def test_iou_and_giou_hand_computed():
    a, b = (0.0, 0.0, 2.0, 2.0), (1.0, 1.0, 3.0, 3.0)
    assert iou(a, b) == pytest.approx(1 / 7)
    # hull 3x3 = 9, union 7: GIoU = 1/7 - 2/9
    assert giou(a, b) == pytest.approx(1 / 7 - 2 / 9)
    # disjoint: IoU 0, GIoU = -(hull - union)/hull; hull 3x1=3, union 2 -> -1/3
    assert giou((0, 0, 1, 1), (2, 0, 3, 1)) == pytest.approx(-1 / 3)
    assert giou(a, a) == pytest.approx(1.0)


def test_affordance_reward_is_half_giou_plus_one():
    box = Box(0.5, 0.5, 0.2, 0.2)
    assert affordance_reward(box, box) == pytest.approx(1.0)
    assert affordance_reward(None, box) == 0.0
    far = Box(0.1 + 0.05, 0.5, 0.1, 0.2)  # (0.1..0.2) vs (0.4..0.6) in x, same y extent
    # union = 0.02 + 0.04 = 0.06, hull = 0.5 * 0.2 = 0.1: GIoU = -0.4 -> reward 0.3
    assert affordance_reward(far, box) == pytest.approx(0.3)


def test_frechet_hausdorff_rmse_hand_computed():
    p = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    q = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
    assert discrete_frechet(p, q) == pytest.approx(1.0)
    assert hausdorff(p, q) == pytest.approx(1.0)
    assert rmse(p, q) == pytest.approx(1.0)
    # Order matters for Fréchet, not for Hausdorff.
    assert discrete_frechet(p, q[::-1]) == pytest.approx(math.hypot(2, 1))
    assert hausdorff(p, q[::-1]) == pytest.approx(1.0)
    # RMSE resamples by arc length: a 2-point line equals its 3-point version.
    assert rmse(p[[0, 2]], p) == pytest.approx(0.0)
    # Hausdorff of a point against a segment's ends.
    assert hausdorff(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0], [0.0, 0.0]])) == pytest.approx(5.0)


def test_alaf_reduces_to_frechet_for_parallel_equal_segments():
    p = np.array([[0.0, 0.0], [0.1, 0.0], [0.2, 0.0]])
    q = p + np.array([0.0, 0.05])
    assert alaf_distance(p, q) == pytest.approx(0.05)
    assert trajectory_reward(p, q) == pytest.approx(1 - 0.05 / ALAF_NORMALISER)


def test_alaf_angle_and_length_terms_hand_computed():
    # Same start, perpendicular single segments of equal length: the ends are sqrt(2)*0.1 apart and
    # every tangent pair is 90 degrees apart.
    p = np.array([[0.0, 0.0], [0.1, 0.0]])
    q = np.array([[0.0, 0.0], [0.0, 0.1]])
    expected = math.hypot(0.1, 0.1) + 0.25 * math.pi / 2
    assert alaf_distance(p, q) == pytest.approx(expected)
    # Collinear, twice as long: length term 0.1*ln 2 at the start, position 0.1 at the end.
    r = np.array([[0.0, 0.0], [0.2, 0.0]])
    assert alaf_distance(r, p) == pytest.approx(max(0.1 * math.log(2), 0.1 + 0.1 * math.log(2)))
    # The length ratio is clipped at ln 10.
    tiny = np.array([[0.0, 0.0], [1e-6, 0.0]])
    assert alaf_distance(tiny, np.array([[0.0, 0.0], [0.0 + 1e-6, 0.0]])) == pytest.approx(0.0, abs=1e-9)
    assert alaf_distance(np.array([[0.0, 0.0], [1e-4, 0.0]]), np.array([[0.0, 0.0], [1.0, 0.0]])) == pytest.approx(
        1.0 - 1e-4 + 0.1 * math.log(10), rel=1e-6
    )


def test_trajectory_reward_bounds():
    p = np.array([[0.0, 0.0], [1.0, 1.0]])
    assert trajectory_reward(p, p) == pytest.approx(1.0)
    assert trajectory_reward(None, p) == 0.0
    assert 0.0 <= trajectory_reward(p[::-1], p) < 0.5


def test_format_and_total_reward():
    good = '<think>the cube is left</think><output>{"x": 0.5, "y": 0.5, "width": 0.2, "height": 0.2}</output>'
    assert format_reward(good, "affordance") == 1.0
    assert format_reward("<output>{}</output>", "affordance") == 0.0
    target = Box(0.5, 0.5, 0.2, 0.2)
    assert total_reward(good, "affordance", target) == pytest.approx(1.0)
    bad = "no tags at all"
    assert total_reward(bad, "affordance", target) == 0.0
    traj = "<think>go</think><output>[[0.1, 0.1], [0.2, 0.1]]</output>"
    assert total_reward(traj, "trajectory", np.array([[0.1, 0.1], [0.2, 0.1]])) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="Box"):
        total_reward(good, "affordance", np.zeros((2, 2)))
