"""The reasoning node's status record (``nav_r1/status``): one type for every producer and consumer.

The reasoning core builds it, the node stamps and publishes it, the simulator bridge reads it as
its acknowledgement channel (instruction taken, stop said) and the bag evaluator reads it back
from recordings. The JSON keeps the field names recorded bags already carry.

Model text in a status is bounded (:func:`bounded_text`): a 10 MB reply must not be republished
at several Hz; the node logs the reply itself, bounded more loosely.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any


class ReasoningState(StrEnum):
    """What the reasoning node did last."""

    INSTRUCTED = "instructed"  # a new instruction was taken
    PLANNED = "planned"  # a reply became a plan
    STOPPED = "stopped"  # the model said stop (and nothing else)
    FAILED = "failed"  # the reply failed or did not parse; the plan is unchanged
    HOLDING = "holding"  # the model server is unreachable: an empty plan holds the robot
    RESUMED = "resumed"  # the server answers again
    DIRECTED = "directed"  # a scene question or plan step set the plan (the instruction is dropped)


class StatusError(ValueError):
    """A status message that is not a valid :class:`ReasoningStatus`; names the bad field."""


def bounded_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with a marker saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...[truncated {len(text) - limit} of {len(text)} chars]"


@dataclass(frozen=True)
class ReasoningStatus:
    """One ``nav_r1/status`` message."""

    state: ReasoningState
    stamp: float  # when it was published (node clock) [s]
    instruction: str
    plan_id: int = 0
    obs_stamp: float | None = None  # stamp of the observation the reply answered [s]
    stop: bool = False
    failures: int = 0  # failed replies so far
    model: str = ""
    raw: str = ""  # the model's reply, bounded
    reasoning: str = ""
    actions: tuple[str, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None

    def stamped(self, now: float) -> ReasoningStatus:
        """The same status published at ``now``."""
        return replace(self, stamp=now)

    def to_json(self) -> str:
        """The message text."""
        d = asdict(self)
        d["state"] = self.state.value
        d["actions"] = list(self.actions)
        d["timings"] = dict(self.timings)
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str) -> ReasoningStatus:
        """Parse a message; anything malformed raises :class:`StatusError` naming the field."""
        try:
            d = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise StatusError(f"status is not JSON: {exc}") from None
        if not isinstance(d, dict):
            raise StatusError(f"status must be a JSON object, got {type(d).__name__}")
        return cls.from_dict(d)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReasoningStatus:
        """Build from a decoded message; unknown keys are ignored (newer producers may add some)."""
        try:
            state = ReasoningState(str(d.get("state")))
        except ValueError:
            raise StatusError(f"status field 'state' = {d.get('state')!r} is not one of "
                              f"{[s.value for s in ReasoningState]}") from None
        timings = d.get("timings") or {}
        if not isinstance(timings, Mapping) or not all(_number(v) for v in timings.values()):
            raise StatusError("status field 'timings' must map names to numbers")
        actions = d.get("actions") or []
        if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
            raise StatusError("status field 'actions' must be a list of strings")
        obs_stamp = d.get("obs_stamp")
        return cls(
            state=state,
            stamp=_float(d, "stamp"),
            instruction=_str(d, "instruction"),
            plan_id=_int(d, "plan_id"),
            obs_stamp=None if obs_stamp is None else _float(d, "obs_stamp"),
            stop=_bool(d, "stop"),
            failures=_int(d, "failures"),
            model=_str(d, "model"),
            raw=_str(d, "raw"),
            reasoning=_str(d, "reasoning"),
            actions=tuple(actions),
            timings={str(k): float(v) for k, v in timings.items()},
            error=None if d.get("error") is None else _str(d, "error"),
        )


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _float(d: Mapping[str, Any], name: str) -> float:
    v = d.get(name, 0.0)
    if not _number(v):
        raise StatusError(f"status field '{name}' must be a finite number, got {v!r}")
    return float(v)


def _int(d: Mapping[str, Any], name: str) -> int:
    v = d.get(name, 0)
    if not isinstance(v, int) or isinstance(v, bool):
        raise StatusError(f"status field '{name}' must be an integer, got {v!r}")
    return v


def _bool(d: Mapping[str, Any], name: str) -> bool:
    v = d.get(name, False)
    if not isinstance(v, bool):
        raise StatusError(f"status field '{name}' must be true or false, got {v!r}")
    return v


def _str(d: Mapping[str, Any], name: str) -> str:
    v = d.get(name, "")
    if not isinstance(v, str):
        raise StatusError(f"status field '{name}' must be a string, got {type(v).__name__}")
    return v
