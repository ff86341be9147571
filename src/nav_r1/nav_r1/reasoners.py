"""Build the reasoning node's Reasoner from its ``backend`` parameter.

``expert``                 the simulator's privileged expert (needs ``episodes_file``)
``transformers:PATH|ID``   a local Qwen2.5-VL-family model through transformers
``openai:URL[#MODEL]``     an OpenAI-compatible server (vLLM, SGLang, our ``policy_server``)
``scripted:FILE``          replies read from a file, one per line, in order, the last one repeated
                           (bring-up checks and tests: the whole graph runs on known replies)

Heavy imports (torch, mujoco) happen only for the backend chosen.
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Any

from nav_r1.actions import NAV_R1_ACTION_SPACE, UAV_ACTION_SPACE
from nav_r1.reasoning import ReasoningConfig
from r1_core.params import ParamError
from r1_core.reasoner import Observation, PromptedReasoner, Reasoner, Response

KINDS = ("expert", "transformers", "openai", "scripted")


def split_spec(spec: str) -> tuple[str, str]:
    """``"kind:rest"`` -> (kind, rest); a typo in the kind gets the nearest suggestion."""
    kind, _, rest = spec.partition(":")
    kind = kind.strip()
    if kind not in KINDS:
        near = difflib.get_close_matches(kind, KINDS, n=1)
        hint = f"; did you mean '{near[0]}'?" if near else ""
        raise ParamError(f"parameter 'backend' = {spec!r}: unknown reasoner kind '{kind}'{hint} (one of {KINDS})")
    if kind != "expert" and not rest.strip():
        raise ParamError(f"parameter 'backend' = {spec!r}: '{kind}' needs a model path or server URL after ':'")
    return kind, rest.strip()


def make_reasoner(config: ReasoningConfig) -> Reasoner:
    """The Reasoner named by ``config.backend``."""
    kind, rest = split_spec(config.backend)
    if kind == "expert":
        if not config.episodes_file:
            raise ParamError("parameter 'episodes_file' is required with backend 'expert'")
        return EpisodeExpert(Path(config.episodes_file))
    from nav_r1.prompt import NavPrompt

    space = UAV_ACTION_SPACE if config.action_space == "uav" else NAV_R1_ACTION_SPACE
    prompt = NavPrompt(action_space=space, max_history=config.history_size)
    from r1_core.backends import make_backend

    # The deadline is the node's to set: a reply later than that is stale for a moving robot.
    overrides = {"request_timeout_s": config.request_timeout_s} if kind == "openai" else {}
    return PromptedReasoner(make_backend(f"{kind}:{rest}", **overrides), prompt)


class EpisodeExpert:
    """The simulator expert for a file of episodes: picks the episode by instruction and start pose.

    The reasoning node only sees an instruction string; the episode it belongs to is the one with
    that instruction whose start pose is nearest the robot's pose when the instruction arrives.
    """

    def __init__(self, episodes_file: Path) -> None:
        from r1_sim.episodes import load_episodes

        self._episodes = load_episodes(episodes_file)
        self._experts: dict[str, Any] = {}
        self._active: Any = None
        self._instruction = ""

    @property
    def name(self) -> str:
        """Reported in status messages."""
        return "sim-expert"

    def _select(self, obs: Observation) -> Any:
        from r1_sim.expert import expert_for_episode

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
