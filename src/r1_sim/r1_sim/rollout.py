"""Closed-loop episodes without ROS: reasoner -> parse -> discrete actions -> controller -> Simulator.

The ROS graph does the same with nodes; this in-process loop is for tests, data generation
(``ExpertReasoner(record=True)`` then ``export_navcot``) and quick comparisons. The episode rules
(time limit, the settle after the stop) are the bridge's own, from :mod:`r1_sim.episode_runner`.
The actions are executed by an :class:`~r1_sim.episode_runner.ActionController`: by default the
simple :class:`~r1_sim.episode_runner.PController`; ``nav_r1.sim_control`` passes the real fast
control core instead (r1_sim cannot import it: nav_r1 sits above r1_sim in the package graph).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from r1_core.nav.parse import parse_response
from r1_core.reasoner import Frame, Observation, Reasoner
from r1_sim.episode_runner import ZERO, ActionController, EpisodeRules, EpisodeRun, PController
from r1_sim.episodes import Episode
from r1_sim.world import Simulator

CONTROL_DT = 0.05
#: A reply that cannot be used costs this much simulated time, as waiting for a model would [s].
FAILED_REPLY_S = 0.5


@dataclass
class EpisodeResult:
    """What happened in one closed-loop episode."""

    path: NDArray[np.float64]  # (N, 3) base_link positions: the start, then one per control step
    stopped: bool
    collisions: int
    time: float
    replies: int
    parse_failures: int
    texts: list[str] = field(default_factory=list)


def _drive(sim: Simulator, run: EpisodeRun, controller: ActionController | None, stop: bool,
           max_ticks: int | None = None) -> bool:
    """Tick until the controller is done (then hold still if ``stop``); True when the episode is over."""
    ticks = 0
    while max_ticks is None or ticks < max_ticks:
        cmd = controller.command(sim.pose(), sim.twist(), sim.time) if controller is not None else None
        if cmd is None and not stop and max_ticks is None:
            sim.apply_command(*ZERO)
            return False
        sim.apply_command(*(cmd if cmd is not None else ZERO))
        sim.step(CONTROL_DT)
        ticks += 1
        if run.after_tick(sim.time, sim, stop_said=stop and cmd is None):
            sim.apply_command(*ZERO)
            return True
    sim.apply_command(*ZERO)
    return False


def run_episode(
    sim: Simulator,
    reasoner: Reasoner,
    episode: Episode,
    *,
    max_time: float = 120.0,
    max_replies: int = 200,
    render: bool = False,
    history: int = 5,
    controller: ActionController | None = None,
    settle_timeout_s: float = 3.0,
) -> EpisodeResult:
    """Run one episode to a stop (or the time/reply limit); ``render`` feeds real RGB-D frames."""
    sim.reset(episode.start)
    reasoner.reset()
    ctrl = controller if controller is not None else PController(sim.profile)
    run = EpisodeRun(EpisodeRules(max_time, settle_timeout_s, sample_every=1), t0=sim.time)
    run.sample(sim.time, sim)
    frames: list[Frame] = []
    blank = Frame(np.zeros((2, 2, 3), np.uint8))
    replies = failures = 0
    texts: list[str] = []
    over = sim.time >= max_time
    while not over and replies < max_replies:
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
            over = _drive(sim, run, None, False, max_ticks=round(FAILED_REPLY_S / CONTROL_DT))
            continue
        moves = list(itertools.takewhile(lambda a: a.kind != "stop", parsed.actions))
        ctrl.start(moves, sim.pose(), sim.time)
        over = _drive(sim, run, ctrl, stop=len(moves) < len(parsed.actions))
    path = np.asarray([row[1:4] for row in run.trajectory], dtype=np.float64)
    return EpisodeResult(path, run.called_stop, sim.collisions, sim.time, replies, failures, texts)
