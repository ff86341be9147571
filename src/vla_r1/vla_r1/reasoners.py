"""Build the vla_node's Reasoner from its ``backend`` parameter: the shared kinds of :mod:`r1_core.reasoners`."""

from __future__ import annotations

from r1_core.reasoner import Reasoner
from r1_core.reasoners import make_reasoner as make_model_reasoner
from vla_r1.prompt import TaskPrompt


def make_reasoner(spec: str) -> Reasoner:
    """``transformers:PATH`` | ``openai:URL[#model]`` | ``scripted:FILE`` -> a Reasoner with VLA-R1's prompt."""
    return make_model_reasoner(spec, TaskPrompt())
