"""VLN-CE's measures against hand-computed cases and a brute-force DTW."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest

from r1_core.nav.vlnce_metrics import (
    PathsError,
    aggregate_vlnce,
    drop_repeats,
    parse_paths,
    vlnce_episode_metrics,
)


def brute_force_dtw(q: np.ndarray, r: np.ndarray) -> float:
    """Minimum over every monotone warping path from (0, 0) to (n-1, m-1), enumerated explicitly."""
    n, m = len(q), len(r)

    @cache
    def paths(i: int, j: int) -> tuple[tuple[tuple[int, int], ...], ...]:
        if (i, j) == (0, 0):
            return (((0, 0),),)
        prev = [(a, b) for a, b in ((i - 1, j), (i, j - 1), (i - 1, j - 1)) if a >= 0 and b >= 0]
        return tuple((*p, (i, j)) for a, b in prev for p in paths(a, b))

    return min(sum(float(np.linalg.norm(q[a] - r[b])) for a, b in path) for path in paths(n - 1, m - 1))


def test_hand_computed_straight_run() -> None:
    # Along x from 0 to 4 m in 1 m steps; goal at x = 5; reference = the same points + the goal.
    pos = np.array([[x, 0.0, 0.0] for x in range(5)], dtype=float)
    ref = np.array([[x, 0.0, 0.0] for x in range(6)], dtype=float)
    m = vlnce_episode_metrics("e", pos, True, [5.0, 0.0, 0.0], ref, geodesic_distance=5.0)
    assert m.ne == pytest.approx(1.0)
    assert m.success == 1.0 and m.oracle_success == 1.0
    assert m.path_length == pytest.approx(4.0)
    assert m.spl == pytest.approx(5.0 / max(5.0, 4.0))  # l / max(l, p) = 1
    # DTW: the first 5 reference points match exactly; the 6th (x=5) pairs with x=4 at cost 1.
    assert m.ndtw == pytest.approx(math.exp(-1.0 / (6 * 3.0)))
    assert m.sdtw == pytest.approx(m.ndtw)
    assert m.steps == 4 + 1  # four moves and the stop


def test_success_is_strict_and_needs_stop() -> None:
    ref = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 0.0]])
    at_3 = vlnce_episode_metrics("e", [[0.0, 0.0, 0.0]], True, [3.0, 0.0, 0.0], ref, 3.0)
    assert at_3.ne == pytest.approx(3.0) and at_3.success == 0.0 and at_3.oracle_success == 0.0  # < 3.0, not <=
    near = vlnce_episode_metrics("e", [[0.0, 0.0, 0.0], [0.01, 0.0, 0.0]], False, [3.0, 0.0, 0.0], ref, 3.0)
    assert near.ne < 3.0 and near.success == 0.0 and near.spl == 0.0 and near.sdtw == 0.0  # never stopped
    assert near.oracle_success == 1.0


def test_heights_count_in_3d() -> None:
    # Two floors: 2.5 m apart in x-y, 3 m apart in height -> not a success in 3-D.
    ref = np.array([[0.0, 0.0, 0.0], [2.5, 0.0, 3.0]])
    m = vlnce_episode_metrics("e", [[0.0, 0.0, 0.0]], True, [2.5, 0.0, 3.0], ref, 4.0)
    assert m.ne == pytest.approx(math.hypot(2.5, 3.0)) and m.success == 0.0


def test_spl_uses_the_episode_geodesic_distance() -> None:
    pos = [[0.0, 0.0, 0.0], [0.0, 4.0, 0.0], [4.0, 4.0, 0.0], [4.0, 0.5, 0.0]]  # a detour of 11.5 m
    m = vlnce_episode_metrics("e", pos, True, [4.0, 0.0, 0.0], [[0, 0, 0], [4, 0, 0]], geodesic_distance=6.0)
    assert m.path_length == pytest.approx(11.5)
    assert m.spl == pytest.approx(6.0 / 11.5)


def test_custom_distance_is_used_for_ne_and_oracle() -> None:
    calls: list[tuple[float, ...]] = []

    def far(a: np.ndarray, b: np.ndarray) -> float:
        calls.append(tuple(a))
        return 10.0  # a wall in the way: the geodesic is long

    m = vlnce_episode_metrics("e", [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]], True, [1.5, 0.0, 0.0],
                              [[0, 0, 0], [1.5, 0, 0]], 1.5, distance=far)
    assert m.ne == 10.0 and m.success == 0.0 and m.oracle_success == 0.0 and len(calls) == 2


@pytest.mark.parametrize("seed", range(6))
def test_ndtw_matches_brute_force_dtw(seed: int) -> None:
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(int(rng.integers(1, 6)), 3)) * 2
    r = rng.normal(size=(int(rng.integers(1, 6)), 3)) * 2
    m = vlnce_episode_metrics("e", q, True, r[-1], r, 1.0)
    assert m.ndtw == pytest.approx(math.exp(-brute_force_dtw(q, r) / (len(r) * 3.0)), rel=1e-9)


def test_repeated_positions_are_recorded_once() -> None:
    ref = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    once = [[0.0, 0.0, 0.0], [1.0, 0.5, 0.0], [2.0, 0.0, 0.0]]
    twice = [once[0], once[0], once[1], once[1], once[1], once[2]]
    np.testing.assert_array_equal(drop_repeats(np.array(twice)), np.array(once))
    a = vlnce_episode_metrics("e", once, True, ref[-1], ref, 2.0)
    b = vlnce_episode_metrics("e", twice, True, ref[-1], ref, 2.0)
    assert a.ndtw == pytest.approx(b.ndtw) and a.path_length == pytest.approx(b.path_length)


def test_aggregate_means() -> None:
    ref = [[0, 0, 0], [1, 0, 0]]
    good = vlnce_episode_metrics("a", [[0, 0, 0], [1, 0, 0]], True, [1, 0, 0], ref, 1.0)
    bad = vlnce_episode_metrics("b", [[0, 0, 0]], False, [9, 0, 0], ref, 9.0)
    agg = aggregate_vlnce([good, bad])
    assert agg["episodes"] == 2 and agg["success"] == 0.5 and agg["ne"] == pytest.approx((0 + 9) / 2)
    assert aggregate_vlnce([]) == {"episodes": 0.0}


def test_parse_paths_names_episode_and_field() -> None:
    ok = parse_paths({"1": {"positions": [[0, 0, 0], [1, 2, 3]], "stopped": True, "steps": 7}})
    assert ok["1"].positions.shape == (2, 3) and ok["1"].stopped and ok["1"].steps == 7
    bad = [
        ({"7": {"positions": [[0, 0]], "stopped": True}}, r"episode 7\.positions"),
        ({"7": {"positions": [], "stopped": True}}, r"episode 7\.positions"),
        ({"7": {"positions": [[0, 0, "x"]], "stopped": True}}, r"episode 7\.positions"),
        ({"7": {"positions": [[0, 0, 0]], "stopped": "yes"}}, r"episode 7\.stopped"),
        ({"7": {"positions": [[0, 0, 0]], "stopped": True, "steps": -1}}, r"episode 7\.steps"),
        ({"7": [1, 2]}, r"episode 7: must be an object"),
        ([1, 2], "must map episode ids"),
    ]
    for data, match in bad:
        with pytest.raises(PathsError, match=match):
            parse_paths(data)
