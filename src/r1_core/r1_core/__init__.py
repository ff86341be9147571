"""Shared core of the R1 robot stack: reasoner protocol, parameters, VLM backends, ROS helpers."""

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
