"""The real fast control core as the in-process rollout's controller (``r1_sim.rollout``).

r1_sim sits below nav_r1 in the package graph, so it cannot import the control core; it defines
the :class:`~r1_sim.episode_runner.ActionController` protocol and nav_r1 passes this driver in:

    run_episode(sim, reasoner, episode, controller=ControlCoreDriver.for_robot("dog"))

Each reply's actions become a plan (:func:`nav_r1.plan.actions_to_poses`, as the reasoning core
makes it) that :class:`~nav_r1.control.controller.FastController` follows tick by tick with the
robot's own limits and primitives. The rollout has no depth stream, so the obstacle timeout is
switched off here; collision zones are exercised by the ROS graph and the bag replays.
"""

from __future__ import annotations

from collections.abc import Sequence

from nav_r1.control.config import ControlConfig
from nav_r1.control.controller import FastController
from nav_r1.control.types import Odometry, Plan, Twist
from nav_r1.plan import actions_to_poses
from r1_core.nav.actions import Action
from r1_core.params import replace
from r1_core.reasoner import Pose2D
from r1_sim.episode_runner import Velocity


class ControlCoreDriver:
    """Feeds plans and odometry to a FastController and returns its command; time is passed in."""

    def __init__(self, config: ControlConfig) -> None:
        self.core = FastController(config)
        self._plans = 0
        self._active = False

    @classmethod
    def for_robot(cls, robot: str) -> ControlCoreDriver:
        """The robot's control preset, with no obstacle source required (the rollout renders no depth)."""
        return cls(replace(ControlConfig.for_profile(robot), **{"timeouts.obstacles_s": 0.0}))

    def start(self, actions: Sequence[Action], pose: Pose2D, now: float) -> None:
        """Turn the actions into a plan from ``pose`` and hand it to the control core."""
        poses = actions_to_poses(pose, actions)
        self._plans += 1
        self.core.on_odom(Odometry(now, pose), now)
        self.core.on_plan(Plan(now, poses, self._plans), now)
        self._active = len(poses) >= 2

    def command(self, pose: Pose2D, twist: Velocity, now: float) -> Velocity | None:
        """One control-loop step on this odometry; None once the plan is done."""
        if not self._active:
            return None
        self.core.on_odom(Odometry(now, pose, Twist(*twist)), now)
        out = self.core.step(now)
        if out.progress.done:
            self._active = False
            return None
        return out.twist.as_tuple()


__all__ = ["ControlCoreDriver"]
