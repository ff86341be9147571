"""Time parametrisation under velocity and acceleration limits; the trajectory streamer."""

import numpy as np
import pytest

from vla_r1.streaming import TrajectoryStreamer
from vla_r1.timing import time_parametrize

VEL = np.array([1.0, 0.5])
ACC = np.array([2.0, 1.0])


def _finite_differences(tr):
    dt = np.diff(tr.times)
    v = np.diff(tr.positions, axis=0) / dt[:, None]
    return v


def test_single_segment_is_a_trapezoid_with_known_duration():
    # Joint 0 moves 2 rad: v 1, a 2 -> 0.5 s up, 1.5 s cruise, 0.5 s down = 2.5 s.
    tr = time_parametrize(np.array([[0.0, 0.0], [2.0, 0.0]]), VEL, ACC, sample_dt=0.01)
    assert tr.duration == pytest.approx(2.5)
    assert np.abs(tr.velocities).max() == pytest.approx(1.0)
    np.testing.assert_allclose(tr.positions[-1], [2.0, 0.0])
    np.testing.assert_allclose(tr.velocities[[0, -1]], 0.0)
    # Short move: triangular profile, peak sqrt(a*L) = sqrt(2*0.1)
    short = time_parametrize(np.array([[0.0, 0.0], [0.1, 0.0]]), VEL, ACC)
    assert short.duration == pytest.approx(2 * np.sqrt(0.1 / 2.0))


def test_limits_hold_on_a_polyline_and_waypoints_are_passed():
    wp = np.array([[0.0, 0.0], [1.0, 0.2], [1.0, 0.2], [1.5, 1.0], [0.2, 1.2]])
    tr = time_parametrize(wp, VEL, ACC, sample_dt=0.01, corner_dt=0.02)
    v = _finite_differences(tr)
    assert np.all(np.abs(v) <= VEL * (1 + 1e-6))
    assert np.all(np.abs(tr.velocities) <= VEL * (1 + 1e-6))
    # Each input waypoint (the repeated one included) is reached at its reported time.
    for q, t in zip(wp, tr.waypoint_times, strict=False):
        np.testing.assert_allclose(tr.sample(t)[0], q, atol=1e-9)
    assert np.all(np.diff(tr.waypoint_times) >= 0) and tr.waypoint_times[2] == tr.waypoint_times[1]
    # Inside segments the analytic velocities change by at most a_max per second; at corners the
    # jump is bounded by a_max * corner_dt.
    dv = np.abs(np.diff(tr.velocities, axis=0))
    dt = np.diff(tr.times)[:, None]
    # The interval leaving a waypoint holds the corner's direction change.
    corner = np.any(np.isclose(tr.times[:-1, None], tr.waypoint_times[None, :], atol=1e-9), axis=1)
    inside = ~corner
    assert corner.sum() >= 3
    assert np.all(dv[inside] <= ACC * dt[inside] * (1 + 1e-6) + 1e-9)
    assert np.all(dv <= ACC * (dt + 0.02) * (1 + 1e-6) + 1e-9)


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="limits must have"):
        time_parametrize(np.zeros((2, 2)), np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="positive"):
        time_parametrize(np.zeros((2, 2)), np.zeros(2), np.ones(2))
    with pytest.raises(ValueError, match="finite"):
        time_parametrize(np.array([[0.0, np.nan], [1.0, 1.0]]), VEL, ACC)
    still = time_parametrize(np.zeros((3, 2)), VEL, ACC)
    assert still.duration == 0.0 and len(still.waypoint_times) == 3


def test_streamer_streams_then_holds_and_e_stop_holds_at_once():
    tr = time_parametrize(np.array([[0.0, 0.0], [1.0, 0.5]]), VEL, ACC)
    s = TrajectoryStreamer(("a", "b"))
    assert s.command(0.0) is None
    assert "starts" in s.load(tr, 10.0, np.array([0.5, 0.0]))  # far from where the arm is
    assert s.load(tr, 10.0, np.array([0.0, 0.0])) == ""
    mid = s.command(10.0 + tr.duration / 2)
    assert mid.state == "moving" and 0.1 < mid.positions[0] < 0.9
    # E-stop: hold the measured position now, drop the trajectory, refuse new ones until released.
    s.set_stop(True, 10.0 + tr.duration / 2, mid.positions)
    later = s.command(10.0 + tr.duration)
    assert later.state == "stopped"
    np.testing.assert_allclose(later.positions, mid.positions)
    np.testing.assert_allclose(later.velocities, 0.0)
    assert "e-stop" in s.load(tr, 20.0, mid.positions)
    s.set_stop(False, 21.0, None)
    assert s.command(22.0).state == "idle" and not s.active
    done = TrajectoryStreamer(("a", "b"))
    done.load(tr, 0.0, None)
    assert done.command(tr.duration + 1).state == "done"
    np.testing.assert_allclose(done.command(tr.duration + 2).positions, [1.0, 0.5])
