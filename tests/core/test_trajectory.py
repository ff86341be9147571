"""Shared trajectory distances (used by nav_r1's bag evaluator and vla_r1's rewards)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from r1_core.trajectory import discrete_frechet, frechet_from_costs


def test_frechet_by_hand() -> None:
    a = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    b = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
    assert discrete_frechet(a, b) == pytest.approx(1.0)
    assert discrete_frechet(a, a[::-1]) == pytest.approx(2.0)
    # A custom per-pair cost (as ALAF's) goes through the same coupling.
    assert frechet_from_costs(np.array([[0.0, 5.0], [5.0, 1.0]])) == pytest.approx(1.0)
    assert discrete_frechet([[0.0, 0.0, 0.0]], [[3.0, 4.0, 0.0]]) == pytest.approx(5.0)
    assert math.isfinite(discrete_frechet(np.random.default_rng(0).random((40, 2)), np.zeros((7, 2))))


@pytest.mark.parametrize(("a", "b"), [(np.zeros((0, 2)), np.zeros((3, 2))), (np.zeros((3, 2)), np.zeros((3, 3)))])
def test_bad_paths_are_refused(a, b) -> None:
    with pytest.raises(ValueError):
        discrete_frechet(a, b)
    with pytest.raises(ValueError):
        frechet_from_costs(np.zeros((0, 0)))
