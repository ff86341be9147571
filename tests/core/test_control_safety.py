"""Collision zones (Nav2 collision-monitor semantics), input timeouts and the twist mux (no ROS)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from nav_r1.control import ControlConfig, FastController, Plan, Twist
from nav_r1.control.kinematics import KinematicBase
from nav_r1.control.safety import Zone, ZoneChecker, points_in_polygon
from r1_core import Pose2D

DT = 0.01


def square(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def pts(*xy: tuple[float, float], z: float = 0.3) -> np.ndarray:
    return np.array([[x, y, z] for x, y in xy], dtype=np.float32).reshape(-1, 3)


def cluster(x: float, y: float, n: int) -> np.ndarray:
    return pts(*[(x + 0.001 * i, y) for i in range(n)])


def moving(cfg: ControlConfig | None = None, obstacles: bool = True) -> tuple[FastController, KinematicBase, float]:
    """A controller driving a long straight plan at cruise speed, fed empty obstacle clouds."""
    ctl = FastController(cfg or ControlConfig())
    base = KinematicBase()
    ctl.on_odom(base.odometry(0.0), 0.0)
    ctl.on_plan(Plan(0.0, (base.pose, Pose2D(5.0, 0.0, 0.0)), 1), 0.0)
    t = 0.0
    for _ in range(150):
        t += DT
        if obstacles:
            ctl.on_obstacles(pts(), t, t)
        ctl.on_odom(base.odometry(t), t)
        base.advance(ctl.step(t).twist, DT)
    assert ctl.limiter.last.vx == pytest.approx(ctl.cfg.primitives.linear_speed)
    return ctl, base, t


def assert_ramps_to_zero(ctl: FastController, outs: list) -> None:
    lim = ctl.cfg.limits
    vx = [ctl.cfg.primitives.linear_speed] + [o.twist.vx for o in outs]
    steps = np.diff(vx)
    assert outs[-1].twist.is_zero()
    assert steps.min() >= -lim.max_linear_decel * DT - 1e-9  # braking within the decel limit
    assert (steps < 0).sum() > 5  # a ramp, not a jump


# --- zones ------------------------------------------------------------------------------------


def test_points_in_polygon_convex_and_concave() -> None:
    l_shape = np.array([[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2]], dtype=np.float64)
    xy = np.array([[0.5, 0.5], [1.5, 0.5], [0.5, 1.5], [1.5, 1.5], [-0.1, 0.5], [2.5, 0.5]], dtype=np.float32)
    assert points_in_polygon(xy, l_shape).tolist() == [True, True, True, False, False, False]


def test_min_points_decides_a_trigger() -> None:
    checker = ZoneChecker([Zone("stop", "stop", square(0, -0.3, 0.5, 0.3), min_points=4)])
    assert checker.check(cluster(0.3, 0.0, 3)).action == "clear"
    verdict = checker.check(cluster(0.3, 0.0, 4))
    assert verdict.action == "stop" and verdict.scale == 0.0
    assert verdict.winner is not None and verdict.winner.points == 4
    assert verdict.winner.distance == pytest.approx(0.3, abs=1e-6)
    # Points far outside every zone never count.
    assert checker.check(cluster(3.0, 0.0, 100)).action == "clear"


def test_most_aggressive_action_wins() -> None:
    checker = ZoneChecker([
        Zone("slow_far", "slowdown", square(0, -1, 2, 1), 1, ratio=0.5),
        Zone("slow_near", "slowdown", square(0, -1, 1, 1), 1, ratio=0.2),
        Zone("stop", "stop", square(0, -1, 0.4, 1), 1),
    ])
    assert checker.check(pts((1.5, 0.0))).scale == 0.5
    v = checker.check(pts((1.5, 0.0), (0.8, 0.0)))
    assert v.scale == 0.2 and v.winner is not None and v.winner.zone.name == "slow_near"
    v = checker.check(pts((1.5, 0.0), (0.8, 0.0), (0.3, 0.0)))
    assert v.action == "stop" and v.winner is not None and v.winner.zone.name == "stop"


def test_stop_zone_stops_at_once_and_releases_with_a_ramp() -> None:
    ctl, base, t = moving()
    t += DT
    immediate = ctl.on_obstacles(cluster(0.3, 0.0, 10), t, t)
    assert immediate is not None and immediate.twist.is_zero() and immediate.state == "stop_zone"
    assert [e.action for e in immediate.events] == ["stop"]
    assert immediate.events[0].obstacle_distance == pytest.approx(0.3, abs=0.01)
    assert ctl.on_obstacles(cluster(0.3, 0.0, 10), t, t) is None  # only a new trigger returns
    out = ctl.step(t)
    assert out.twist.is_zero() and out.state == "stop_zone"
    t += DT
    ctl.on_obstacles(pts(), t, t)
    outs = []
    for _ in range(30):
        t += DT
        ctl.on_obstacles(pts(), t, t)
        ctl.on_odom(base.odometry(t), t)
        outs.append(ctl.step(t))
    assert outs[0].twist.vx <= ctl.cfg.limits.max_linear_accel * DT * 2 + 1e-9
    assert outs[-1].twist.vx > outs[0].twist.vx > 0.0


def test_slowdown_zone_scales_the_command() -> None:
    ctl, base, t = moving()
    ratio = ctl.cfg.zones.slowdown.slowdown_ratio
    outs = []
    for _ in range(100):
        t += DT
        assert ctl.on_obstacles(cluster(0.7, 0.0, 10), t, t) is None
        ctl.on_odom(base.odometry(t), t)
        outs.append(ctl.step(t))
    assert outs[0].events[0].action == "slowdown"
    assert outs[-1].twist.vx == pytest.approx(ctl.cfg.primitives.linear_speed * ratio, rel=0.05)
    assert outs[-1].slowdown and outs[-1].label == "drive+slowdown"


def test_zone_needs_min_points_in_the_controller_too() -> None:
    ctl, _, t = moving()
    few = cluster(0.3, 0.0, ctl.cfg.zones.stop.min_points - 1)
    assert ctl.on_obstacles(few, t, t) is None
    assert ctl.step(t + DT).twist.vx > 0.2


def test_floor_and_non_finite_points_are_ignored() -> None:
    ctl, _, t = moving()
    floor = cluster(0.3, 0.0, 50)
    floor[:, 2] = 0.0  # below depth.min_height
    nan = cluster(0.3, 0.0, 50)
    nan[:, 0] = np.nan
    assert ctl.on_obstacles(np.concatenate([floor, nan]), t, t) is None
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        ctl.on_obstacles(np.zeros((4, 2), dtype=np.float32), t, t)


# --- timeouts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stale", ["plan", "odom", "obstacles"])
def test_every_timeout_decelerates_to_zero_under_the_limit(stale: str) -> None:
    plan_s = 1.6 if stale == "plan" else 60.0
    cfg = dataclasses.replace(ControlConfig(), timeouts=dataclasses.replace(ControlConfig().timeouts, plan_s=plan_s))
    ctl, base, t = moving(cfg)
    outs = []
    for _ in range(200):
        t += DT
        if stale != "obstacles":
            ctl.on_obstacles(pts(), t, t)
        if stale != "odom":
            ctl.on_odom(base.odometry(t), t)
        out = ctl.step(t)
        base.advance(out.twist, DT)
        outs.append(out)
    assert_ramps_to_zero(ctl, outs)
    expected = {"plan": "plan_stale", "odom": "odom_stale", "obstacles": "obstacles_stale"}[stale]
    assert outs[-1].state == expected
    if stale == "obstacles":
        assert [e.action for o in outs for e in o.events] == ["stale"]


def test_no_obstacle_data_yet_means_no_motion() -> None:
    ctl = FastController(ControlConfig())
    ctl.on_teleop("joy_vel", Twist(0.3, 0.0, 0.0, 0.0), 0.0)
    out = ctl.step(0.01)
    assert out.twist.is_zero() and out.state == "obstacles_stale"


# --- mux ---------------------------------------------------------------------------------------


def test_mux_priorities() -> None:
    ctl, _, t = moving()
    ctl.on_teleop("key_vel", Twist(0.1, 0.0, 0.0, 0.5), t)
    assert ctl.step(t).source == "key_vel"
    ctl.on_teleop("joy_vel", Twist(-0.1, 0.0, 0.0, -0.5), t)
    assert ctl.step(t).source == "joy_vel"
    with pytest.raises(ValueError, match="unknown mux input"):
        ctl.on_teleop("nope", Twist(), t)


def test_winning_input_timeout_publishes_zero_at_once() -> None:
    ctl, base, t = moving()
    timeout = ctl.cfg.mux.input_timeouts[0]
    for _ in range(100):
        t += DT
        ctl.on_obstacles(pts(), t, t)
        ctl.on_teleop("joy_vel", Twist(0.4, 0.0, 0.0, 0.0), t)
        out = ctl.step(t)
    assert out.source == "joy_vel" and out.twist.vx == pytest.approx(0.4)
    last_msg = t
    outs = []
    while t < last_msg + timeout + 0.3:
        t += DT
        ctl.on_obstacles(pts(), t, t)
        ctl.on_odom(base.odometry(t), t)
        outs.append(ctl.step(t))
    first_after = next(i for i, o in enumerate(outs) if o.source != "joy_vel")
    assert outs[first_after].twist.is_zero() and outs[first_after].label == "timeout:joy_vel"
    assert all(o.twist.vx == pytest.approx(0.4) for o in outs[:first_after])
    # Then navigation takes over, ramping up from zero.
    assert outs[first_after + 1].source == "navigation"
    assert 0.0 < outs[first_after + 1].twist.vx <= ctl.cfg.limits.max_linear_accel * DT + 1e-9


def test_lock_publishes_zero_at_once_and_masks_everything() -> None:
    ctl, _, t = moving()
    ctl.on_teleop("joy_vel", Twist(0.4, 0.0, 0.0, 0.0), t)
    ctl.on_lock("e_stop", True, t)
    out = ctl.step(t + DT)
    assert out.twist.is_zero() and out.source == "lock:e_stop" and out.state == "locked"
    ctl.on_lock("e_stop", False, t + 2 * DT)
    out = ctl.step(t + 2 * DT)
    assert out.source == "joy_vel" and 0.0 < out.twist.vx <= ctl.cfg.limits.max_linear_accel * DT + 1e-9


def test_low_priority_lock_masks_navigation_only_and_a_silent_timeout_lock_engages() -> None:
    base = ControlConfig()
    mux = dataclasses.replace(
        base.mux, lock_names=("e_stop", "nav_pause"), lock_topics=("e_stop", "nav_pause"),
        lock_priorities=(255, 50), lock_timeouts=(0.0, 0.5),
    )
    ctl2 = FastController(dataclasses.replace(base, mux=mux))
    assert ctl2.step(0.01).source == "lock:nav_pause"
    ctl2.on_lock("nav_pause", False, 0.02)
    assert ctl2.step(0.03).source == "navigation"
    assert ctl2.step(0.6).source == "lock:nav_pause"  # silent for longer than its timeout
    ctl2.on_teleop("key_vel", Twist(0.1, 0.0, 0.0, 0.0), 0.6)
    assert ctl2.step(0.61).source == "key_vel"  # priority 90 is above the lock's 50
    ctl2.on_lock("e_stop", True, 0.62)
    assert ctl2.step(0.63).source == "lock:e_stop"


def test_reset_forgets_everything() -> None:
    ctl, _, t = moving()
    ctl.reset()
    out = ctl.step(t + DT)
    assert out.twist.is_zero() and out.progress.plan_id == -1 and math.isfinite(out.twist.vx)
