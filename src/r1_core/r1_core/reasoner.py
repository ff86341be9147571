"""The one protocol every reasoning model kind implements: ``infer(observation) -> Response``.

A local transformers model, a client of an OpenAI-compatible server, the simulator's scripted
expert and a recorder all implement :class:`Reasoner`, so the reasoning node never knows which it
holds.  Model-specific prompting lives in a :class:`PromptBuilder` (nav_r1 and vla_r1 each have
one); the VLM backends turn the built chat into text.

``infer`` must not raise for failures that are part of normal operation (a server timeout, an
out-of-memory, a malformed reply): it returns a :class:`Response` whose ``error`` says what went
wrong, so the node can report it and keep running.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Pose2D:
    """A planar pose in the odometry frame: metres and radians (REP-103)."""

    x: float
    y: float
    yaw: float
    z: float = 0.0

    def __post_init__(self) -> None:
        for name in ("x", "y", "yaw", "z"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"Pose2D.{name} must be finite, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class Frame:
    """One camera frame: ``rgb`` (H, W, 3) uint8, optional aligned ``depth`` (H, W) float32 metres."""

    rgb: NDArray[np.uint8]
    depth: NDArray[np.float32] | None = None
    stamp: float = 0.0

    def __post_init__(self) -> None:
        if self.rgb.ndim != 3 or self.rgb.shape[2] != 3 or self.rgb.dtype != np.uint8:
            raise ValueError(f"Frame.rgb must be (H, W, 3) uint8, got {self.rgb.shape} {self.rgb.dtype}")
        if self.depth is not None and self.depth.shape != self.rgb.shape[:2]:
            raise ValueError(
                f"Frame.depth {self.depth.shape} must match the colour image {self.rgb.shape[:2]}"
            )


@dataclass(frozen=True)
class Observation:
    """What a reasoner sees: the task text, the current frame, older frames and the robot pose.

    ``history`` is ordered oldest first and excludes ``frame``.  ``extra`` carries task-specific
    fields (for example ``{"task": "trajectory"}`` for vla_r1, or camera intrinsics).
    """

    instruction: str
    frame: Frame
    history: tuple[Frame, ...] = ()
    pose: Pose2D | None = None
    stamp: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)
    # Which instruction this was taken for: a reply to an older one (superseded) is dropped.
    generation: int = 0


@dataclass(frozen=True)
class Response:
    """A reasoner's reply.  ``timings`` are seconds (keys such as ``total``, ``generate``)."""

    text: str
    model: str
    timings: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the backend produced text (the text may still fail to parse)."""
        return self.error is None

    @classmethod
    def failure(cls, model: str, error: str, timings: Mapping[str, float] | None = None) -> Response:
        """A reply that carries only an error, for backends that could not produce text."""
        return cls(text="", model=model, timings=dict(timings or {}), error=error)


@runtime_checkable
class Reasoner(Protocol):
    """The reasoning contract shared by models, remote clients, experts and recorders."""

    @property
    def name(self) -> str:
        """A short identifier of the model or policy, reported in status messages."""
        ...

    def infer(self, observation: Observation) -> Response:
        """Reason about one observation; never raises for operational failures."""
        ...

    def reset(self) -> None:
        """Forget episode state (history, caches) before a new instruction or episode.

        Callers never call ``reset()`` while ``infer()`` runs: the reasoning node runs both on its
        one worker thread in order, and the in-process rollout (``r1_sim.rollout``) uses one thread.
        """
        ...


Role = Literal["system", "user", "assistant"]
ImageArray = NDArray[np.uint8]


@dataclass(frozen=True)
class ChatMessage:
    """One chat turn: text parts and (H, W, 3) uint8 images, in order."""

    role: Role
    content: tuple[str | ImageArray, ...]

    def text(self) -> str:
        """The concatenated text parts of this message."""
        return "".join(p for p in self.content if isinstance(p, str))

    def images(self) -> list[ImageArray]:
        """The image parts of this message, in order."""
        return [p for p in self.content if not isinstance(p, str)]


class PromptBuilder(Protocol):
    """Turns an observation into the chat a VLM backend sends to its model."""

    def build(self, observation: Observation) -> Sequence[ChatMessage]:
        """Build the chat for one observation."""
        ...


class VLMBackend(Protocol):
    """Generates a reply for a chat; backends wrap this into a :class:`Reasoner`."""

    @property
    def name(self) -> str:
        """The model identifier."""
        ...

    def generate(self, messages: Sequence[ChatMessage]) -> Response:
        """Generate a reply; never raises for operational failures."""
        ...


class PromptedReasoner:
    """A :class:`Reasoner` made of a prompt builder and a VLM backend (local or remote)."""

    def __init__(self, backend: VLMBackend, prompt: PromptBuilder) -> None:
        self._backend = backend
        self._prompt = prompt

    @property
    def name(self) -> str:
        """The backend's model identifier."""
        return self._backend.name

    @property
    def backend(self) -> VLMBackend:
        """The VLM backend (shared by the reasoning node's scene questions: one model in memory)."""
        return self._backend

    def infer(self, observation: Observation) -> Response:
        """Build the prompt and generate; prompt errors become failed responses."""
        try:
            messages = self._prompt.build(observation)
        except ValueError as exc:
            return Response.failure(self.name, f"prompt: {exc}")
        return self._backend.generate(messages)

    def reset(self) -> None:
        """Prompts keep no episode state beyond the observation's history; a backend with ``reset`` is reset."""
        reset = getattr(self._backend, "reset", None)
        if callable(reset):
            reset()

    def health(self) -> str | None:
        """None when the backend can answer, else why not (remote backends probe their server)."""
        probe = getattr(self._backend, "health", None)
        if probe is None:
            return None
        return None if probe() is not None else f"model server of '{self.name}' is not answering"
