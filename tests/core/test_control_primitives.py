"""Motion primitives and pure pursuit closed on a simulated base with noisy odometry (no ROS)."""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest

from nav_r1.control import ControlConfig, FastController, Plan, Twist
from nav_r1.control.kinematics import KinematicBase, run_closed_loop
from nav_r1.control.primitives import Climb, Drive, Turn, segment_primitives
from r1_core import Pose2D
from r1_core.geometry import wrap_angle


def no_obstacle_source(cfg: ControlConfig) -> ControlConfig:
    """These tests exercise motion only: no obstacle source is required."""
    return dataclasses.replace(cfg, timeouts=dataclasses.replace(cfg.timeouts, obstacles_s=0.0))


def start(profile: str = "wheeled", pose: Pose2D | None = None, **base_kw) -> tuple[FastController, KinematicBase]:
    ctl = FastController(no_obstacle_source(ControlConfig.for_profile(profile)))
    base = KinematicBase(pose or Pose2D(0.0, 0.0, 0.0), **base_kw)
    ctl.on_odom(base.odometry(0.0), 0.0)
    return ctl, base


def ahead(p: Pose2D, d: float) -> Pose2D:
    return Pose2D(p.x + d * math.cos(p.yaw), p.y + d * math.sin(p.yaw), p.yaw, p.z)


@pytest.mark.parametrize("profile", ["wheeled", "dog"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_25cm_step_ends_within_2cm(profile: str, seed: int) -> None:
    p0 = Pose2D(1.0, -2.0, 0.7)
    ctl, base = start(profile, p0, noise_xy=0.003, noise_yaw=0.003, slip=0.15, seed=seed)
    goal = ahead(p0, 0.25)
    ctl.on_plan(Plan(0.0, (p0, goal), 1), 0.0)
    _, outs = run_closed_loop(ctl, base, 0.0, 4.0)
    assert outs[-1].progress.done and outs[-1].twist.is_zero()
    assert math.hypot(base.pose.x - goal.x, base.pose.y - goal.y) < 0.02
    assert abs(wrap_angle(base.pose.yaw - p0.yaw)) < math.radians(2.0)
    # It actually moved at cruise speed, not creep: a 25 cm step takes about a second.
    assert max(o.twist.vx for o in outs) > 0.2


@pytest.mark.parametrize("direction", [1.0, -1.0])
@pytest.mark.parametrize("seed", [0, 3])
def test_30deg_turn_ends_within_2deg(direction: float, seed: int) -> None:
    p0 = Pose2D(0.0, 0.0, 3.0)  # near the wrap-around at pi
    ctl, base = start("wheeled", p0, noise_yaw=0.005, slip=0.1, seed=seed)
    goal = Pose2D(p0.x, p0.y, wrap_angle(p0.yaw + direction * math.radians(30)))
    ctl.on_plan(Plan(0.0, (p0, goal), 2), 0.0)
    _, outs = run_closed_loop(ctl, base, 0.0, 3.0)
    assert outs[-1].progress.done
    assert abs(wrap_angle(base.pose.yaw - goal.yaw)) < math.radians(2.0)
    assert all(o.twist.vx == 0.0 for o in outs)


def test_trapezoid_respects_velocity_and_acceleration_limits() -> None:
    ctl, base = start("wheeled")
    lim, dt = ctl.cfg.limits, ctl.cfg.period_s
    p0 = base.pose
    ctl.on_plan(Plan(0.0, (p0, ahead(p0, 1.5)), 3), 0.0)
    _, outs = run_closed_loop(ctl, base, 0.0, 8.0)
    vx = [0.0] + [o.twist.vx for o in outs]
    assert max(vx) == pytest.approx(ctl.cfg.primitives.linear_speed, abs=1e-9)  # reached cruise
    dv = [b - a for a, b in itertools.pairwise(vx)]
    assert max(dv) <= lim.max_linear_accel * dt + 1e-9
    assert min(dv) >= -lim.max_linear_decel * dt - 1e-9
    assert abs(base.pose.x - 1.5) < 0.02


def test_plan_of_actions_runs_in_order_and_reports_progress() -> None:
    ctl, base = start("wheeled", noise_xy=0.002, noise_yaw=0.002, seed=5)
    p0 = base.pose
    p1 = ahead(p0, 0.25)
    p2 = Pose2D(p1.x, p1.y, math.radians(30))
    p3 = ahead(p2, 0.25)
    ctl.on_plan(Plan(0.0, (p0, p1, p2, p3), 7), 0.0)
    _, outs = run_closed_loop(ctl, base, 0.0, 6.0)
    segments = [o.progress.segment for o in outs]
    assert segments == sorted(segments) and set(segments) == {0, 1, 2}
    modes = [o.progress.mode for o in outs]
    assert modes.index("turn") > modes.index("drive") and "done" in modes
    assert outs[-1].progress.plan_id == 7 and outs[-1].progress.done
    assert math.hypot(base.pose.x - p3.x, base.pose.y - p3.y) < 0.03


def test_new_plan_replaces_old_at_once() -> None:
    ctl, base = start("wheeled")
    p0 = base.pose
    ctl.on_plan(Plan(0.0, (p0, ahead(p0, 2.0)), 1), 0.0)
    t, outs = run_closed_loop(ctl, base, 0.0, 1.0)
    assert outs[-1].twist.vx > 0.2
    here = base.pose
    turn = Pose2D(here.x, here.y, wrap_angle(here.yaw + math.radians(30)))
    ctl.on_plan(Plan(t, (here, turn), 2), t)
    out = ctl.step(t + 0.01)
    assert out.progress.plan_id == 2 and out.progress.mode == "turn"
    assert out.twist.vx < outs[-1].twist.vx  # braking for the turn from the very next tick


def test_empty_plan_stops_and_holds() -> None:
    ctl, base = start("wheeled")
    p0 = base.pose
    ctl.on_plan(Plan(0.0, (p0, ahead(p0, 2.0)), 1), 0.0)
    t, _ = run_closed_loop(ctl, base, 0.0, 1.0)
    ctl.on_plan(Plan(t, (), 2), t)
    _, outs = run_closed_loop(ctl, base, t, 1.0)
    assert outs[-1].twist.is_zero() and outs[-1].state == "holding"
    dv = [b.twist.vx - a.twist.vx for a, b in itertools.pairwise(outs)]
    assert min(dv) >= -ctl.cfg.limits.max_linear_decel * ctl.cfg.period_s - 1e-9


def test_segments_become_primitives_or_pursuit() -> None:
    cfg = ControlConfig().primitives
    p0 = Pose2D(0.0, 0.0, 0.0)
    prims = segment_primitives(
        (p0, Pose2D(0.25, 0.0, 0.0), Pose2D(0.25, 0.0, 0.5), Pose2D(0.25, 0.0, 0.5, 0.25),
         Pose2D(0.25, 0.0, 0.0, 0.25)),
        cfg,
    )
    assert prims is not None
    assert [type(p) for p in prims] == [Drive, Turn, Climb, Turn]
    back = segment_primitives((p0, Pose2D(-0.25, 0.0, 0.0)), cfg)  # straight backwards is a drive too
    assert back is not None and isinstance(back[0], Drive)
    assert segment_primitives((p0, Pose2D(0.2, 0.2, 0.0)), cfg) is None  # sideways: generic


def test_pure_pursuit_follows_a_curve() -> None:
    ctl, base = start("wheeled", noise_xy=0.002, noise_yaw=0.002, seed=4)
    radius, n = 1.0, 40
    poses = tuple(
        Pose2D(radius * math.sin(a), radius * (1.0 - math.cos(a)), a)
        for a in (i * (math.pi / 2) / n for i in range(n + 1))
    )
    ctl.on_plan(Plan(0.0, poses, 9), 0.0)
    t, outs = 0.0, []
    worst = 0.0
    for _ in range(100):
        t, chunk = run_closed_loop(ctl, base, t, 0.1)
        outs += chunk
        worst = max(worst, abs(math.hypot(base.pose.x, base.pose.y - radius) - radius))
        if chunk[-1].progress.done:
            break
    assert outs[-1].progress.done
    assert {o.progress.mode for o in outs} >= {"pursuit"}
    assert worst < 0.05
    goal = poses[-1]
    assert math.hypot(base.pose.x - goal.x, base.pose.y - goal.y) < 0.08
    assert abs(wrap_angle(base.pose.yaw - goal.yaw)) < math.radians(2.0)
    # Regulated: the curve (radius 1 m vs min radius 0.9 m) is driven near cruise, the end slowly.
    assert max(o.twist.vx for o in outs) > 0.3


def test_uav_climbs_and_holds_altitude() -> None:
    ctl, base = start("uav", Pose2D(0.0, 0.0, 0.0, 1.0), noise_xy=0.002, seed=2)
    p0 = base.pose
    up = Pose2D(p0.x, p0.y, p0.yaw, 1.25)
    fwd = Pose2D(0.25, 0.0, 0.0, 1.25)
    ctl.on_plan(Plan(0.0, (p0, up, fwd), 3), 0.0)
    t, outs = run_closed_loop(ctl, base, 0.0, 5.0)
    assert outs[-1].progress.done
    assert abs(base.pose.z - 1.25) < 0.03 and abs(base.pose.x - 0.25) < 0.02
    assert max(o.twist.vz for o in outs) > 0.1
    # A gust pushes it down 20 cm: altitude hold brings it back with no new plan.
    base.pose = Pose2D(base.pose.x, base.pose.y, base.pose.yaw, 1.05)
    _, outs = run_closed_loop(ctl, base, t, 4.0)
    assert outs[0].twist.vz > 0.0
    assert abs(base.pose.z - 1.25) < 0.03


def test_planar_profile_never_commands_vertical_or_sideways() -> None:
    ctl, base = start("wheeled")
    p0 = base.pose
    ctl.on_plan(Plan(0.0, (p0, Pose2D(0.0, 0.0, 0.0, 0.5)), 1), 0.0)
    _, outs = run_closed_loop(ctl, base, 0.0, 0.5)
    for i in range(50):
        ctl.on_teleop("joy_vel", Twist(0.2, 0.3, 0.4, 0.1), 0.5 + i * 0.01)
        outs.append(ctl.step(0.5 + i * 0.01))
    assert outs[-1].source == "joy_vel" and outs[-1].twist.vx > 0.0
    assert all(o.twist.vz == 0.0 and o.twist.vy == 0.0 for o in outs)


def test_heartbeat_of_the_same_plan_keeps_progress_and_revives_a_stale_plan() -> None:
    cfg = no_obstacle_source(ControlConfig())
    ctl = FastController(dataclasses.replace(cfg, timeouts=dataclasses.replace(cfg.timeouts, plan_s=1.5)))
    base = KinematicBase()
    ctl.on_odom(base.odometry(0.0), 0.0)
    p0 = base.pose
    p1 = ahead(p0, 0.25)
    p2 = Pose2D(p1.x, p1.y, 0.5)
    plan = Plan(0.0, (p0, p1, p2), 4)
    assert ctl.on_plan(plan, 0.0)
    t, outs = run_closed_loop(ctl, base, 0.0, 2.2)
    assert outs[-1].state == "plan_stale" and outs[-1].twist.is_zero()
    assert outs[-1].progress.segment == 1  # the drive had finished before the plan went stale
    assert not ctl.on_plan(Plan(0.0, (p0, p1, p2), 4), t)  # heartbeat: same stamp and poses
    _, outs = run_closed_loop(ctl, base, t, 0.2)
    assert outs[-1].progress.mode == "turn" and outs[-1].twist.wz > 0.0 and outs[-1].twist.vx == 0.0
    assert ctl.on_plan(Plan(0.5, (p0, p1, p2), 5), t)  # a new reply, even with the same poses
