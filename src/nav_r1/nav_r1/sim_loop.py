"""One episode in closed loop, in process, taking each step as the reasoning node takes it.

Camera frames go into the node's own :class:`~nav_r1.reasoning.ReasoningCore` at the camera rate
(which keeps history frames ``history_stride_s`` apart); the core builds the observation, the
reasoner answers, the core parses the reply with the node's limits, and the robot executes the
actions in the MuJoCo simulator with the rollout's :class:`~r1_sim.episode_runner.PController`.  A failed or
unparsable reply costs ``retry_backoff_s`` of simulated time, as the node's back-off does.

The data engine records the expert through this loop, and the recipe benchmark evaluates trained
models through it, so data and evaluation see the same observations the robot's node would.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from nav_r1.reasoning import ReasoningConfig, ReasoningCore
from r1_core.nav.actions import Action
from r1_core.nav.parse import ParseResult, parse_response
from r1_core.reasoner import Frame, Observation, Pose2D, Reasoner, Response
from r1_sim.episode_runner import ZERO, ActionController, PController
from r1_sim.episodes import Episode
from r1_sim.robots import robot_profile
from r1_sim.rollout import CONTROL_DT
from r1_sim.world import Simulator

_NODE = ReasoningConfig()


@dataclass(frozen=True)
class LoopConfig:
    """How the in-process loop feeds the reasoning core."""

    history_size: int = _NODE.history_size
    history_stride_s: float = _NODE.history_stride_s
    camera_hz: float = 10.0
    max_replies: int = 200
    max_time_s: float = 150.0
    retry_backoff_s: float = _NODE.retry_backoff_s
    blank_images: bool = False  # the blind control: every frame zeroed before the core sees it


@dataclass(frozen=True)
class Step:
    """One reasoning step: what the core observed, the reply, its parse (None when the reply failed)."""

    index: int
    observation: Observation
    pose: Pose2D
    response: Response
    parsed: ParseResult | None


@dataclass
class LoopResult:
    """What happened in one episode."""

    path: NDArray[np.float64]  # (N, 2) positions, one per control step
    stopped: bool
    replies: int
    failures: int
    time: float
    collisions: int
    texts: list[str] = field(default_factory=list)

    def final_distance(self, goal: tuple[float, float]) -> float:
        """Straight-line distance from the last position to ``goal``."""
        return float(math.hypot(self.path[-1, 0] - goal[0], self.path[-1, 1] - goal[1]))


class _Feed:
    """Records the path every control step and feeds the core a camera frame at ``camera_hz``."""

    def __init__(self, sim: Simulator, core: ReasoningCore, cfg: LoopConfig) -> None:
        self.sim, self.core, self.cfg = sim, core, cfg
        self.period = 1.0 / cfg.camera_hz
        self.next_frame = 0.0
        self.last_stamp = -1.0
        self.path: list[tuple[float, float]] = []

    def __call__(self, force: bool = False) -> None:
        q = self.sim.pose()
        self.path.append((q.x, q.y))
        t = self.sim.time
        if (not force and t + 1e-9 < self.next_frame) or t == self.last_stamp:
            return
        rgb, _ = self.sim.render_rgbd()
        self.core.on_frame(Frame(np.zeros_like(rgb) if self.cfg.blank_images else rgb, None, t))
        self.last_stamp = t
        while self.next_frame <= t + 1e-9:
            self.next_frame += self.period


def _infer(reasoner: Reasoner, obs: Observation) -> Response:
    try:
        return reasoner.infer(obs)
    except Exception as exc:  # the node turns a backend bug into a failed reply; so do we
        return Response.failure(getattr(reasoner, "name", "reasoner"), f"{type(exc).__name__}: {exc}")


def drive_episode(
    sim: Simulator, episode: Episode, reasoner: Reasoner, cfg: LoopConfig = LoopConfig(),
    on_step: Callable[[Step], None] | None = None,
) -> LoopResult:
    """Run ``episode`` with ``reasoner`` until it stops, or the reply or time limit."""
    flies = robot_profile(episode.robot).flies
    node_cfg = ReasoningConfig(history_size=cfg.history_size, history_stride_s=cfg.history_stride_s,
                               action_space="uav" if flies else "nav", retry_backoff_s=cfg.retry_backoff_s)
    core = ReasoningCore(node_cfg)
    core.set_instruction(episode.instruction, 0.0)
    reasoner.reset()
    sim.reset(episode.start)
    tick = _Feed(sim, core, cfg)
    stopped = False
    replies = failures = 0
    texts: list[str] = []
    while replies < cfg.max_replies and sim.time < cfg.max_time_s:
        tick(force=True)
        t = sim.time
        pose = sim.pose()
        core.on_odom(pose, 0.0, t)
        obs = core.observe(t)
        reply = _infer(reasoner, obs)
        core.on_reply(obs, reply, t)
        replies += 1
        texts.append(reply.text)
        parsed = parse_response(reply.text, node_cfg.parse) if reply.ok else None
        ok = parsed is not None and parsed.ok
        if on_step is not None:
            on_step(Step(replies - 1, obs, pose, reply, parsed if ok else None))
        if not ok or parsed is None:
            failures += 1
            sim.apply_command(0.0, 0.0, 0.0, 0.0)
            end = sim.time + cfg.retry_backoff_s
            while sim.time < end:
                sim.step(0.05)
                tick()
            continue
        stopped = any(a.kind == "stop" for a in parsed.actions)
        if stopped:
            sim.apply_command(0.0, 0.0, 0.0, 0.0)
        # Actions before the stop are still executed, as the node's plan does.
        _execute(sim, PController(sim.profile), itertools.takewhile(lambda a: a.kind != "stop", parsed.actions),
                 tick)
        if stopped:
            break
    tick()
    return LoopResult(np.asarray(tick.path, dtype=np.float64), stopped, replies, failures, sim.time, sim.collisions,
                      texts)


def _execute(sim: Simulator, controller: ActionController, actions: Iterable[Action], on_step: Callable[[], None]
             ) -> None:
    """Drive the simulator through one reply's actions with ``controller``, then hold still."""
    controller.start(list(actions), sim.pose(), sim.time)
    while (cmd := controller.command(sim.pose(), sim.twist(), sim.time)) is not None:
        sim.apply_command(*cmd)
        sim.step(CONTROL_DT)
        on_step()
    sim.apply_command(*ZERO)
