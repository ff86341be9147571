"""The evaluation on hand-made traces: agreement, velocity error, time to stop, replay tolerances."""

from __future__ import annotations

import math

import pytest

from nav_r1.bag.evaluate import (
    REPLAY_TOLERANCES,
    EvalOptions,
    RunTrace,
    action_class,
    compare_commands,
    replay_differences,
    safety_section,
    summary,
)
from nav_r1.bag.navigation import discrete_frechet
from nav_r1.bag.traces import BagTraces
from nav_r1.control.types import Twist

OPTS = EvalOptions()


def _bag(cmds=(), depth_first=0.0) -> BagTraces:
    return BagTraces(t0_s=100.0, duration_s=5.0, topics={}, counts={}, recorded_cmds=list(cmds),
                     depth_first_s=depth_first)


def _run(cmds, events=(), arrivals=()) -> RunTrace:
    return RunTrace("offline", [(t, tw, "navigation") for t, tw in cmds], list(events), list(arrivals))


def test_action_classes():
    assert action_class(Twist(), OPTS) == "stop"
    assert action_class(Twist(vx=0.3), OPTS) == "forward"
    assert action_class(Twist(vx=-0.1), OPTS) == "backward"
    assert action_class(Twist(vx=0.1, wz=0.5), OPTS) == "turn_left"
    assert action_class(Twist(wz=-0.5), OPTS) == "turn_right"
    assert action_class(Twist(vx=0.005, wz=0.01), OPTS) == "stop"


def test_agreement_and_velocity_error_by_hand():
    rec = [(0.0, Twist(vx=0.3)), (1.0, Twist(vx=0.3)), (2.0, Twist()), (3.0, Twist(wz=0.5))]
    # Commanded: forward from 0, stops at 1.5, turns right from 2.5 (disagrees at 3.0).
    run = _run([(0.0, Twist(vx=0.2)), (1.5, Twist()), (2.5, Twist(wz=-0.5))])
    c = compare_commands(_bag(rec), run, OPTS)
    assert c["samples"] == 4 and c["action_agreement"] == 0.75
    assert c["velocity_error"]["vx"]["rmse"] == pytest.approx(math.sqrt((0.01 + 0.01) / 4), abs=1e-6)
    assert c["velocity_error"]["wz"]["max_abs"] == pytest.approx(1.0, abs=1e-6)
    assert c["confusion"] == {"forward->forward": 2, "stop->stop": 1, "turn_left->turn_right": 1}


def test_commands_before_the_first_replayed_one_are_not_compared():
    c = compare_commands(_bag([(0.0, Twist()), (2.0, Twist())]), _run([(1.0, Twist())]), OPTS)
    assert c["samples"] == 1
    assert not compare_commands(_bag([]), _run([(1.0, Twist())]), OPTS)["available"]
    assert not compare_commands(_bag([(0.0, Twist())]), _run([]), OPTS)["available"]


def _stop_event(stamp_rel: float) -> dict:
    return {"stamp": 100.0 + stamp_rel, "zone": "stop", "action": "stop", "obstacle_distance": 0.3, "points": 9}


def test_time_to_stop_is_measured_from_the_obstacle_frame():
    cmds = [(t / 10, Twist(vx=0.3)) for t in range(30)] + [(3.05, Twist(vx=0.1)), (3.4, Twist())]
    cmds.sort(key=lambda c: c[0])
    s = safety_section(_bag(), _run(cmds, [(3.1, _stop_event(3.0))]), OPTS)
    stop = s["stops"][0]
    assert stop["obstacle_appeared_s"] == pytest.approx(3.0, abs=1e-6)
    assert stop["time_to_stop_s"] == pytest.approx(0.4, abs=1e-6)
    assert not stop["within_target"] and not s["all_stops_within_target"]
    quick = safety_section(_bag(), _run(cmds, [(3.3, _stop_event(3.2))]), OPTS)["stops"][0]
    assert quick["time_to_stop_s"] == pytest.approx(0.2, abs=1e-6) and quick["within_target"]


def test_already_standing_still_is_a_zero_stop_and_never_stopping_is_infinite():
    s = safety_section(_bag(), _run([(0.0, Twist()), (5.0, Twist())], [(1.0, _stop_event(1.0))]), OPTS)
    assert s["stops"][0]["time_to_stop_s"] == 0.0
    s = safety_section(_bag(), _run([(0.0, Twist(vx=0.2))], [(1.0, _stop_event(1.0))]), OPTS)
    assert s["stops"][0]["time_to_stop_s"] is None and not s["stops"][0]["within_target"]


def test_live_arrival_time_is_reported_beside_the_stamp():
    cmds = [(0.0, Twist(vx=0.3)), (1.02, Twist())]
    s = safety_section(_bag(), _run(cmds, [(1.05, _stop_event(1.0))], arrivals=[0.01, 1.09]), OPTS)
    assert s["stops"][0]["time_to_stop_s"] == pytest.approx(0.02, abs=1e-6)
    assert s["stops"][0]["time_to_stop_arrival_s"] == pytest.approx(0.09, abs=1e-6)


def test_startup_staleness_is_not_another_event_but_later_staleness_is():
    ev = [(0.0, {"stamp": 100.0, "zone": "obstacles", "action": "stale"}),
          (0.05, {"stamp": 100.05, "zone": "obstacles", "action": "fresh"}),
          (2.0, {"stamp": 102.0, "zone": "obstacles", "action": "stale"}),
          (2.5, {"stamp": 102.5, "zone": "slowdown", "action": "slowdown"})]
    s = safety_section(_bag(depth_first=0.05), _run([(0.0, Twist())], ev), OPTS)
    assert [e["action"] for e in s["other_events"]] == ["stale", "slowdown"]
    assert s["stale"] == 2 and s["slowdowns"] == 1
    # Obstacle data that first arrives long after the first frame: the start-up staleness counts too.
    late = [(0.0, ev[0][1]), (1.0, {"stamp": 101.0, "zone": "obstacles", "action": "fresh"})]
    s = safety_section(_bag(depth_first=0.05), _run([(0.0, Twist())], late), OPTS)
    assert [e["action"] for e in s["other_events"]] == ["stale", "fresh"]


def test_summary_and_json_safety():
    s = summary([1.0, 2.0, 3.0, 4.0])
    assert s["n"] == 4 and s["mean"] == 2.5 and s["p50"] == 2.5 and s["max"] == 4.0
    assert summary([])["mean"] is None


def test_replay_differences_use_the_stated_tolerances():
    def rep(agree, rmse, tts):
        return {"commands": {"available": True, "action_agreement": agree,
                             "velocity_error": {"vx": {"rmse": rmse}, "wz": {"rmse": 0.0}}},
                "safety": {"stops": [{"time_to_stop_s": tts, "obstacle_appeared_s": 2.5}]}}
    d = replay_differences(rep(0.98, 0.01, 0.0), rep(0.95, 0.02, 0.04))
    assert all(v["ok"] for v in d.values())
    d = replay_differences(rep(0.98, 0.01, 0.0), rep(0.80, 0.01, 0.0))
    assert not d["action_agreement"]["ok"] and REPLAY_TOLERANCES["action_agreement"] == 0.10


def test_discrete_frechet_by_hand():
    import numpy as np

    a = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    b = np.array([[0.0, 1.0], [2.0, 1.0]])
    # (0,0)-(0,1): 1; (1,0) must pair with (0,1) or (2,1): sqrt(2); (2,0)-(2,1): 1.
    assert discrete_frechet(a, b) == pytest.approx(math.sqrt(2.0), abs=1e-6)
    assert discrete_frechet(a, a) == 0.0
    assert discrete_frechet(a, a[::-1]) == pytest.approx(2.0, abs=1e-6)


def test_eval_options_are_validated():
    with pytest.raises(ValueError, match="stop_target_s"):
        EvalOptions(stop_target_s=0.0)
