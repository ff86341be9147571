"""Build the reasoning node's Reasoner from its ``backend`` parameter.

The kinds are :data:`r1_core.reasoners.MODEL_REASONERS` (``transformers:``, ``openai:``,
``scripted:``, shared with the arm) plus ``expert``: the simulator's privileged expert, which reads
the node's ``episodes_file``. Heavy imports (torch) happen only for the backend chosen.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from nav_r1.prompt import NavPrompt
from nav_r1.reasoning import ReasoningConfig
from r1_core.nav.actions import NAV_R1_ACTION_SPACE, UAV_ACTION_SPACE
from r1_core.params import ParamError
from r1_core.reasoner import Observation, Reasoner, Response
from r1_core.reasoners import MODEL_REASONERS, ReasonerKind, parse_reasoner_spec
from r1_core.reasoners import make_reasoner as make_model_reasoner
from r1_core.registry import Registry
from r1_sim.episodes import load_episodes
from r1_sim.expert import expert_for_episode

#: Navigation's reasoner kinds: the shared model kinds plus the simulator expert.
NAV_REASONERS: Registry[ReasonerKind] = MODEL_REASONERS.extended([("expert", ReasonerKind(""))])


def split_spec(spec: str) -> tuple[str, str]:
    """``"kind:rest"`` -> (kind, rest); a typo in the kind gets the nearest suggestion."""
    return parse_reasoner_spec(spec, NAV_REASONERS)


def make_reasoner(config: ReasoningConfig) -> Reasoner:
    """The Reasoner named by ``config.backend``."""
    kind, _ = split_spec(config.backend)
    if kind == "expert":
        if not config.episodes_file:
            raise ParamError("parameter 'episodes_file' is required with backend 'expert'")
        return EpisodeExpert(Path(config.episodes_file))
    space = UAV_ACTION_SPACE if config.action_space == "uav" else NAV_R1_ACTION_SPACE
    prompt = NavPrompt(action_space=space, max_history=config.history_size)
    # The deadline is the node's to set: a reply later than that is stale for a moving robot.
    overrides: dict[str, Any] = {"request_timeout_s": config.request_timeout_s} if kind == "openai" else {}
    return make_model_reasoner(config.backend, prompt, NAV_REASONERS, **overrides)


class EpisodeExpert:
    """The simulator expert for a file of episodes: picks the episode by instruction and start pose.

    The reasoning node only sees an instruction string; the episode it belongs to is the one with
    that instruction whose start pose is nearest the robot's pose when the instruction arrives.
    """

    def __init__(self, episodes_file: Path) -> None:
        self._episodes = load_episodes(episodes_file)
        self._experts: dict[str, Any] = {}
        self._active: Any = None
        self._instruction = ""

    @property
    def name(self) -> str:
        """Reported in status messages."""
        return "sim-expert"

    def _select(self, obs: Observation) -> Any:
        candidates = [e for e in self._episodes if e.instruction.strip() == obs.instruction.strip()]
        if not candidates:
            return None
        pose = obs.pose
        best = min(candidates, key=lambda e: math.hypot(e.start.x - pose.x, e.start.y - pose.y) if pose else 0.0)
        if best.episode_id not in self._experts:
            self._experts[best.episode_id] = expert_for_episode(best)
        return self._experts[best.episode_id]

    def infer(self, observation: Observation) -> Response:
        """Delegate to the expert of the matching episode."""
        if observation.instruction != self._instruction or self._active is None:
            self._instruction = observation.instruction
            self._active = self._select(observation)
            if self._active is not None:
                self._active.reset()
        if self._active is None:
            return Response.failure(self.name, f"no episode has the instruction {observation.instruction!r}")
        response: Response = self._active.infer(observation)
        return response

    def reset(self) -> None:
        """Forget the active episode; the next instruction selects again."""
        self._active = None
        self._instruction = ""
