"""The pure episode rules shared by the simulator bridge and the rollout, and the controllers the rollout takes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from r1_core.nav.actions import Action
from r1_core.reasoner import Pose2D
from r1_sim.episode_runner import (
    SETTLE_SPEED,
    EpisodeRules,
    EpisodeRun,
    Pacer,
    PController,
    settle_residual_m,
)
from r1_sim.robots import PROFILES


class FakeBody:
    """A body whose pose and speed the test sets."""

    def __init__(self) -> None:
        self.p = Pose2D(0.0, 0.0, 0.0)
        self.speed = 0.5

    def pose(self) -> Pose2D:
        return self.p

    def twist(self) -> tuple[float, float, float, float]:
        return (self.speed, 0.0, 0.0, -self.speed)


def test_trajectory_sampling_and_the_final_row() -> None:
    body, run = FakeBody(), EpisodeRun(EpisodeRules(timeout_s=100.0, settle_timeout_s=3.0, sample_every=5), t0=2.0)
    for k in range(1, 12):
        body.p = Pose2D(0.1 * k, 0.0, 0.0)
        assert not run.after_tick(2.0 + 0.01 * k, body, stop_said=False)
    out = run.finish(2.115, body)
    assert [row[0] for row in out.trajectory] == [0.05, 0.1, 0.115]
    assert out.trajectory[0][1] == pytest.approx(0.5) and out.ticks == 11 and not out.called_stop
    assert out.sim_time_s == 0.115


def test_stop_ends_the_episode_once_at_rest_or_after_the_settle_timeout() -> None:
    body, run = FakeBody(), EpisodeRun(EpisodeRules(timeout_s=100.0, settle_timeout_s=1.0), t0=0.0)
    assert not run.after_tick(0.1, body, stop_said=True)  # still moving at 0.5
    assert run.called_stop and run.stop_at == 0.1
    body.speed = SETTLE_SPEED * 1.01
    assert not run.after_tick(0.2, body, stop_said=False)  # the stop is remembered, not re-read
    body.speed = SETTLE_SPEED * 0.99
    assert run.after_tick(0.3, body, stop_said=False)
    body2, run2 = FakeBody(), EpisodeRun(EpisodeRules(timeout_s=100.0, settle_timeout_s=1.0), t0=0.0)
    assert not run2.after_tick(0.5, body2, stop_said=True)
    assert not run2.after_tick(1.5, body2, stop_said=False)  # exactly the settle timeout: not yet
    assert run2.after_tick(1.51, body2, stop_said=False)


def test_timeout_without_a_stop() -> None:
    body, run = FakeBody(), EpisodeRun(EpisodeRules(timeout_s=1.0, settle_timeout_s=3.0), t0=5.0)
    assert not run.after_tick(5.99, body, stop_said=False)
    assert run.after_tick(6.0, body, stop_said=False)
    assert not run.finish(6.0, body).called_stop


@pytest.mark.parametrize(("field", "value"), [("timeout_s", -1.0), ("settle_timeout_s", math.nan),
                                              ("settle_speed", math.inf), ("sample_every", 0)])
def test_rules_reject_bad_values(field: str, value: float) -> None:
    values = {"timeout_s": 10.0, "settle_timeout_s": 1.0, field: value}
    with pytest.raises(ValueError, match=field):
        EpisodeRules(**values)


@pytest.mark.parametrize("robot", sorted(PROFILES))
def test_the_settle_speed_leaves_no_measurable_motion(robot: str) -> None:
    """SETTLE_SPEED's derivation: what a robot still travels from it is far below the reported NE precision."""
    assert settle_residual_m(PROFILES[robot]) < 0.005
    assert settle_residual_m(PROFILES[robot], 10 * SETTLE_SPEED) > 0.005  # ten times looser would not be


def test_pacer_sleeps_only_while_simulation_is_ahead() -> None:
    now = [100.0]
    slept: list[float] = []
    pacer = Pacer(2.0, t0=10.0, clock=lambda: now[0], sleep=slept.append)
    pacer.wait(11.0)  # 1 s simulated at x2 = 0.5 s wall, none elapsed
    now[0] = 101.0
    pacer.wait(11.0)  # the wall clock is ahead: no sleep
    assert slept == [0.5]
    with pytest.raises(ValueError, match="rate_factor"):
        Pacer(0.0, t0=0.0)


def test_p_controller_drives_a_kinematic_body_through_its_actions() -> None:
    ctrl, pose, t, dt = PController("wheeled"), Pose2D(0.0, 0.0, 0.0), 0.0, 0.05
    ctrl.start([Action("forward", 0.5), Action("turn_left", 90.0)], pose, t)
    for _ in range(400):
        cmd = ctrl.command(pose, (0.0, 0.0, 0.0, 0.0), t)
        if cmd is None:
            break
        vx, _, _, wz = cmd
        pose = Pose2D(pose.x + vx * dt * math.cos(pose.yaw), pose.y + vx * dt * math.sin(pose.yaw),
                      pose.yaw + wz * dt)
        t += dt
    else:
        pytest.fail("the controller never finished")
    assert pose.x == pytest.approx(0.5, abs=0.03) and pose.yaw == pytest.approx(math.pi / 2, abs=math.radians(3))


def test_rollout_runs_the_real_control_core_injected_by_nav_r1() -> None:
    """r1_sim's rollout with nav_r1's FastController (through ControlCoreDriver) reaches the expert's goal."""
    from nav_r1.sim_control import ControlCoreDriver
    from r1_sim.episodes import generate_episodes
    from r1_sim.expert import ExpertReasoner
    from r1_sim.navmap import NavMap
    from r1_sim.robots import robot_profile
    from r1_sim.rollout import run_episode
    from r1_sim.scene import generate_scene
    from r1_sim.world import SimConfig, Simulator

    scene = generate_scene(0)
    nm = NavMap(scene, robot_profile("wheeled").radius)
    ep = generate_episodes(scene, 1, seed=0, robot="wheeled", navmap=nm)[0]
    sim = Simulator("wheeled", scene, SimConfig(width=32, height=24))
    driver = ControlCoreDriver.for_robot("wheeled")
    result = run_episode(sim, ExpertReasoner(scene, nm, ep), ep, max_time=90.0, controller=driver)
    ne = float(np.linalg.norm(result.path[-1, :2] - np.asarray(ep.goal_xy)))
    assert result.stopped and result.parse_failures == 0 and result.collisions == 0
    assert ne < ep.success_radius, ne
    assert driver.core.progress().plan_id == result.replies  # every reply became a plan (the stop: hold)
