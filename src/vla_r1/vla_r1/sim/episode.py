"""One simulated episode: instruction -> reply -> parse -> plan -> streamed joints -> success check.

Exercises the whole path the robot takes (only ROS transport is left out): the reasoner sees a
rendered RGB-D frame, its reply is parsed and lifted with the rendered depth and the URDF camera
pose, the plan is streamed by :class:`vla_r1.streaming.TrajectoryStreamer` at the controller rate,
and the physics decides whether the tool centre point got there (and whether the object came up).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from r1_core.reasoner import Frame, Observation, Reasoner
from vla_r1.expert import TabletopExpert
from vla_r1.kinematics import DOWN, ArmKinematics
from vla_r1.parse import parse_response
from vla_r1.planner import MotionPlan, MotionPlanner, PlannerConfig
from vla_r1.sim.tabletop import Tabletop, random_scene
from vla_r1.streaming import TrajectoryStreamer

HOME_TCP = np.array([0.2, 0.24, 0.25])


@dataclass
class EpisodeResult:
    """What happened in one episode; ``reach_error`` is metres at the checked moment."""

    seed: int
    task: str
    target: str
    instruction: str
    ok: bool = False
    reason: str = ""
    reply: str = ""
    reach_error: float = float("inf")
    grasped: bool | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def success(self, tolerance: float = 0.02) -> bool:
        """Reached within ``tolerance`` (and, for grasps, lifted the object)."""
        return self.ok and self.reach_error <= tolerance


def home_configuration(kin: ArmKinematics) -> NDArray[np.float64]:
    """The start posture: gripper down, beside the table's working area, out of the objects' view."""
    r = kin.ik(HOME_TCP, DOWN)
    if not r.ok or r.q is None:
        raise RuntimeError(f"home pose unreachable: {r.reason}")
    return r.q


def _pick_target(world: Tabletop, task: str, seed: int) -> tuple[str, str]:
    """The seeded target object and the instruction naming it."""
    rng = np.random.default_rng(seed + 1000)
    if task == "affordance":
        target = str(rng.choice([lbl for lbl, o in world.objects.items() if not o.place]))
        return target, f"pick up the {target}"
    target = str(rng.choice(list(world.objects)))
    return target, f"move the gripper above the {target}"


def _ground_truth(world: Tabletop, task: str, target: str, plan: MotionPlan,
                  config: PlannerConfig) -> tuple[NDArray[np.float64], float]:
    """Where the tcp should get to, from the simulator (not from the plan), and when to check it [s]."""
    if task == "affordance":
        goal = world.object_top(target) - np.array([0.0, 0.0, config.grasp_depth])
        check_at = plan.events["grasp"]
    else:
        goal = world.object_top(target) + np.array([0.0, 0.0, config.hover_height])
        check_at = plan.events["end"]
    goal[2] = max(goal[2], config.min_tcp_z)
    return goal, check_at


def _execute(world: Tabletop, plan: MotionPlan, res: EpisodeResult, goal: NDArray[np.float64], check_at: float,
             control_rate_hz: float) -> str | None:
    """Stream the plan to the simulated arm; an affordance's reach error is measured at the grasp."""
    assert plan.trajectory is not None
    streamer = TrajectoryStreamer(plan.joint_names)
    start = world.time
    err = streamer.load(plan.trajectory, start, np.append(world.joint_positions(), world.gripper_position()))
    if err:
        return err
    period = 1.0 / control_rate_hz
    settle = 0.3  # let the servos settle before measuring
    t0 = time.perf_counter()
    checked = False
    while world.time - start < plan.trajectory.duration + settle:
        cmd = streamer.command(world.time)
        if cmd is not None:
            world.set_command(cmd.positions)
        world.step(period)
        if not checked and world.time - start >= check_at + settle / 2 and res.task == "affordance":
            res.reach_error = float(np.linalg.norm(world.tcp() - goal))
            checked = True
    res.timings["simulate"] = time.perf_counter() - t0
    return None


def run_episode(
    seed: int,
    task: str,
    kin: ArmKinematics,
    *,
    reasoner: Reasoner | None = None,
    config: PlannerConfig | None = None,
    control_rate_hz: float = 100.0,
) -> EpisodeResult:
    """Run one seeded scene; the default reasoner is the ground-truth expert."""
    config = config or PlannerConfig()
    world = Tabletop(random_scene(seed))
    target, instruction = _pick_target(world, task, seed)
    res = EpisodeResult(seed, task, target, instruction)
    try:
        world.reset(home_configuration(kin), config.gripper_open)
        t0 = time.perf_counter()
        frame = world.render()
        res.timings["render"] = time.perf_counter() - t0
        if reasoner is None:
            reasoner = TabletopExpert(lambda: list(world.objects), world.object_corners, world.object_top,
                                      world.tcp, frame.intrinsics, frame.base_from_camera)
        reply = reasoner.infer(Observation(instruction, Frame(frame.rgb, frame.depth), extra={"task": task}))
        res.reply = reply.text
        if not reply.ok:
            res.reason = f"reasoner: {reply.error}"
            return res
        parsed = parse_response(reply.text, task, image_size=(frame.intrinsics.width, frame.intrinsics.height))
        planner = MotionPlanner(kin, frame.base_from_camera, config)
        t0 = time.perf_counter()
        plan = planner.plan(parsed, frame.depth, frame.intrinsics, world.joint_positions(), world.gripper_position())
        res.timings["plan"] = time.perf_counter() - t0
        if not plan.ok or plan.trajectory is None:
            res.reason = plan.reason
            return res
        goal, check_at = _ground_truth(world, task, target, plan, config)
        z0 = world.object_position(target)[2]
        err = _execute(world, plan, res, goal, check_at, control_rate_hz)
        if err:
            res.reason = err
            return res
        if task == "affordance":
            res.grasped = bool(world.object_position(target)[2] - z0 > 0.5 * config.lift_height)
        else:
            res.reach_error = float(np.linalg.norm(world.tcp() - goal))
        res.ok = True
        return res
    finally:
        world.close()
