"""r1_core.nav.metrics on hand-computed cases."""

import math

import numpy as np
import pytest

from r1_core.nav.metrics import (
    EpisodeMetrics,
    aggregate,
    dtw,
    evaluate_episode,
    navigation_error,
    ndtw,
    oracle_success,
    path_length,
    resample,
    sdtw,
    spl,
    success,
)

STRAIGHT = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])


def test_straight_path_equal_to_reference_is_perfect():
    assert dtw(STRAIGHT, STRAIGHT) == 0.0
    assert ndtw(STRAIGHT, STRAIGHT) == 1.0
    assert path_length(STRAIGHT) == 2.0
    assert navigation_error(STRAIGHT, [2.0, 0.0]) == 0.0
    assert spl(True, 2.0, path_length(STRAIGHT)) == 1.0
    assert sdtw(STRAIGHT, STRAIGHT, succeeded=True) == 1.0


def test_detour_by_hand():
    # R = (0,0),(2,0); Q = (0,0),(1,1),(2,0).  Cost rows: [0, √2, 2], [2, √2, 0].
    # acc: row1 = 0, √2, 2+√2; row2 = 2, √2+0, 0+√2  -> DTW = √2.
    ref = [[0.0, 0.0], [2.0, 0.0]]
    detour = [[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]]
    assert dtw(detour, ref) == pytest.approx(math.sqrt(2))
    assert ndtw(detour, ref) == pytest.approx(math.exp(-math.sqrt(2) / (2 * 3.0)))
    assert ndtw(detour, ref, d_th=1.0) == pytest.approx(math.exp(-math.sqrt(2) / 2))
    assert path_length(detour) == pytest.approx(2 * math.sqrt(2))
    assert spl(True, 2.0, path_length(detour)) == pytest.approx(1 / math.sqrt(2))


def test_stopping_early():
    goal = [10.0, 0.0]
    short = [[0.0, 0.0], [6.0, 0.0]]
    assert navigation_error(short, goal) == 4.0
    assert not success(short, goal)  # NE 4 > 3
    assert not oracle_success(short, goal)
    assert spl(success(short, goal), 10.0, 6.0) == 0.0
    near = [[0.0, 0.0], [8.0, 0.0]]
    assert success(near, goal)  # NE 2 <= 3
    assert spl(True, 10.0, 8.0) == 1.0  # a path shorter than l cannot beat 1


def test_never_stopping_passes_the_goal():
    goal = [10.0, 0.0]
    overshoot = [[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]]
    assert oracle_success(overshoot, goal)
    assert not success(overshoot, goal, stopped=True)  # ended 10 m away
    on_goal = [[0.0, 0.0], [10.0, 0.0]]
    assert not success(on_goal, goal, stopped=False)  # at the goal but never called stop
    m = evaluate_episode("e", on_goal, on_goal, goal, 10.0, stopped=False)
    assert m.success == 0.0 and m.spl == 0.0 and m.sdtw == 0.0 and m.oracle_success == 1.0
    assert m.ndtw == 1.0  # nDTW does not require success


def test_paths_of_different_lengths():
    ref = [[0.0, 0.0], [3.0, 0.0]]
    assert dtw([[0.0, 0.0]], ref) == 3.0  # one point is matched to both reference points
    assert ndtw([[0.0, 0.0]], ref) == pytest.approx(math.exp(-0.5))
    dense = np.stack([np.linspace(0, 3, 31), np.zeros(31)], axis=1)
    # DTW is symmetric and finite for any lengths; |R| normalises nDTW.
    assert dtw(dense, ref) == pytest.approx(dtw(ref, dense))
    assert 0.0 < ndtw(dense, ref) < 1.0
    # After resampling both at the same spacing, the same geometry scores 1.
    assert ndtw(resample(dense, 0.5), resample(ref, 0.5)) == pytest.approx(1.0)


def test_3d_paths_and_geodesic_plug_in():
    path = [[0.0, 0.0, 1.0], [3.0, 4.0, 1.0]]
    assert navigation_error(path, [3.0, 4.0, 2.0]) == 1.0
    # A 2-D goal compares the path's x, y only.
    assert navigation_error(path, [0.0, 0.0]) == 5.0
    calls = []

    def geo(a, b):
        calls.append((tuple(a), tuple(b)))
        return 42.0

    assert navigation_error(path, [0.0, 0.0], geodesic=geo) == 42.0
    assert calls == [((3.0, 4.0), (0.0, 0.0))]


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="path must be"):
        path_length(np.zeros((0, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        dtw([[0.0, math.nan]], STRAIGHT)
    with pytest.raises(ValueError, match="same dimension"):
        dtw([[0.0, 0.0, 0.0]], STRAIGHT)
    with pytest.raises(ValueError, match="d_th"):
        ndtw(STRAIGHT, STRAIGHT, d_th=0.0)
    with pytest.raises(ValueError, match="lengths"):
        spl(True, -1.0, 2.0)


def test_aggregate_means():
    a = EpisodeMetrics("a", 1.0, 1.0, 1.0, 0.5, 0.8, 0.8, 4.0, 2.0, collisions=2, episode_time=10.0)
    b = EpisodeMetrics("b", 3.0, 0.0, 1.0, 0.0, 0.4, 0.0, 6.0, 2.0, collisions=0, episode_time=20.0)
    agg = aggregate([a, b])
    assert agg["ne"] == 2.0 and agg["success"] == 0.5 and agg["oracle_success"] == 1.0
    assert agg["spl"] == 0.25 and agg["ndtw"] == pytest.approx(0.6) and agg["sdtw"] == pytest.approx(0.4)
    assert agg["total_collisions"] == 2.0 and agg["episode_time"] == 15.0 and agg["episodes"] == 2.0
    assert aggregate([]) == {"episodes": 0.0}
