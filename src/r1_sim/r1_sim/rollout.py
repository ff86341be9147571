"""Closed-loop episodes without ROS: reasoner -> parse -> discrete actions -> P controller -> Simulator.

The ROS graph does the same with nodes; this in-process loop is for tests, data generation
(``ExpertReasoner(record=True)`` then ``export_navcot``) and quick comparisons.  The controller
executes one discrete action at a time against the simulator's pose (the odometry), with
proportional gains and the robot's speed limits; it is deliberately simple.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from r1_core.geometry import wrap_angle
from r1_core.nav.actions import Action
from r1_core.nav.parse import parse_response
from r1_core.reasoner import Frame, Observation, Reasoner
from r1_sim.episodes import Episode
from r1_sim.world import Simulator

CONTROL_DT = 0.05



@dataclass
class EpisodeResult:
    """What happened in one closed-loop episode."""

    path: NDArray[np.float64]  # (N, 3) base_link positions, one per control step
    stopped: bool
    collisions: int
    time: float
    replies: int
    parse_failures: int
    texts: list[str] = field(default_factory=list)


def execute_action(sim: Simulator, action: Action, on_step: Callable[[], None], max_time: float = 6.0) -> None:
    """Drive ``sim`` through one discrete action with a proportional controller on its pose."""
    p = sim.profile
    start = sim.pose()
    t_end = sim.time + max_time
    if action.kind == "stop":
        sim.apply_command(0.0, 0.0, 0.0, 0.0)
        return
    target_yaw = wrap_angle(start.yaw + action.yaw_rad)
    tx = start.x + (action.value if action.kind == "forward" else 0.0) * math.cos(start.yaw)
    ty = start.y + (action.value if action.kind == "forward" else 0.0) * math.sin(start.yaw)
    tz = start.z + {"up": action.value, "down": -action.value}.get(action.kind, 0.0)
    while sim.time < t_end:
        pose = sim.pose()
        c, s = math.cos(pose.yaw), math.sin(pose.yaw)
        ex, ey = tx - pose.x, ty - pose.y
        bx, by = c * ex + s * ey, -s * ex + c * ey  # position error in the body frame
        eyaw = wrap_angle(target_yaw - pose.yaw)
        ez = tz - pose.z if p.flies else 0.0
        if math.hypot(bx, by) < 0.02 and abs(eyaw) < math.radians(2.0) and abs(ez) < 0.02:
            break
        vx = float(np.clip(2.0 * bx, -0.6 * p.max_vx, 0.6 * p.max_vx))
        vy = float(np.clip(2.0 * by, -0.6 * p.max_vy, 0.6 * p.max_vy))
        vz = float(np.clip(2.0 * ez, -0.8 * p.max_vz, 0.8 * p.max_vz))
        wz = float(np.clip(3.0 * eyaw, -0.8 * p.max_wz, 0.8 * p.max_wz))
        sim.apply_command(vx, vy, vz, wz)
        sim.step(CONTROL_DT)
        on_step()
    sim.apply_command(0.0, 0.0, 0.0, 0.0)


def run_episode(
    sim: Simulator,
    reasoner: Reasoner,
    episode: Episode,
    *,
    max_time: float = 120.0,
    max_replies: int = 200,
    render: bool = False,
    history: int = 5,
) -> EpisodeResult:
    """Run one episode to a stop (or the time/reply limit); ``render`` feeds real RGB-D frames."""
    sim.reset(episode.start)
    reasoner.reset()
    path: list[tuple[float, float, float]] = []

    def log() -> None:
        q = sim.pose()
        path.append((q.x, q.y, q.z))

    log()
    frames: list[Frame] = []
    blank = Frame(np.zeros((2, 2, 3), np.uint8))
    stopped = False
    replies = failures = 0
    texts: list[str] = []
    while sim.time < max_time and replies < max_replies and not stopped:
        if render:
            rgb, depth = sim.render_rgbd()
            frame = Frame(rgb, depth, sim.time)
        else:
            frame = blank
        obs = Observation(episode.instruction, frame, tuple(frames[-history:]), sim.pose(), sim.time)
        if render:
            frames = [*frames[-(history - 1):], frame] if history > 1 else [frame]
        reply = reasoner.infer(obs)
        replies += 1
        texts.append(reply.text)
        parsed = parse_response(reply.text) if reply.ok else None
        if parsed is None or not parsed.ok:
            failures += 1
            sim.apply_command(0.0, 0.0, 0.0, 0.0)
            sim.step(0.5)  # a failed reply costs time, as waiting for a model would
            log()
            continue
        for action in parsed.actions:
            if action.kind == "stop":
                stopped = True
                sim.apply_command(0.0, 0.0, 0.0, 0.0)
                break
            execute_action(sim, action, log)
    return EpisodeResult(np.asarray(path), stopped, sim.collisions, sim.time, replies, failures, texts)
