"""Build the vla_node's Reasoner from its ``backend`` parameter (heavy imports only when chosen)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from r1_core.params import ParamError
from r1_core.reasoner import Observation, PromptedReasoner, Reasoner, Response
from vla_r1.prompt import TaskPrompt

KINDS = ("transformers", "openai", "scripted")


class ScriptedReasoner:
    """Replays recorded replies in order (then the last one again): for replays, demos and tests."""

    def __init__(self, replies: list[str], name: str = "scripted") -> None:
        if not replies or not all(isinstance(r, str) for r in replies):
            raise ParamError("scripted replies must be a non-empty JSON list of strings")
        self._replies = replies
        self._name = name
        self._next = 0

    @property
    def name(self) -> str:
        """The script's name."""
        return self._name

    def infer(self, observation: Observation) -> Response:
        """The next recorded reply."""
        t0 = time.perf_counter()
        text = self._replies[min(self._next, len(self._replies) - 1)]
        self._next += 1
        return Response(text=text, model=self._name, timings={"total": time.perf_counter() - t0})

    def reset(self) -> None:
        """Start the script over."""
        self._next = 0


def make_reasoner(spec: str) -> Reasoner:
    """``transformers:PATH`` | ``openai:URL[#model]`` | ``scripted:FILE.json`` -> a Reasoner."""
    kind, sep, rest = spec.partition(":")
    if kind not in KINDS or not sep or not rest:
        raise ParamError(f"parameter 'backend' = {spec!r}: expected one of {', '.join(k + ':…' for k in KINDS)}")
    if kind == "scripted":
        path = Path(rest)
        try:
            replies = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ParamError(f"parameter 'backend': cannot read scripted replies from {path}: {exc}") from exc
        if not isinstance(replies, list):
            raise ParamError(f"parameter 'backend': {path} must hold a JSON list of reply strings")
        return ScriptedReasoner(replies, name=f"scripted:{path.name}")
    from r1_core.backends import make_backend

    return PromptedReasoner(make_backend(spec), TaskPrompt())
