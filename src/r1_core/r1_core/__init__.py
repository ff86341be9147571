"""Shared core of the R1 robot stack: reasoner protocol, parameters, VLM backends, ROS helpers.

The reasoner types below are loaded on first use (PEP 562), so ``import r1_core.early_signals``
(the first thing a node process does, before any heavy import) does not pull in NumPy: a stop
that arrives in a node's first fraction of a second must find the guard already installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from r1_core.reasoner import (
        ChatMessage,
        Frame,
        Observation,
        Pose2D,
        PromptBuilder,
        PromptedReasoner,
        Reasoner,
        Response,
        VLMBackend,
    )

__all__ = [
    "ChatMessage",
    "Frame",
    "Observation",
    "Pose2D",
    "PromptBuilder",
    "PromptedReasoner",
    "Reasoner",
    "Response",
    "VLMBackend",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("r1_core.reasoner"), name)
    raise AttributeError(f"module 'r1_core' has no attribute {name!r}")
