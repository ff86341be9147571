"""Discrete navigation actions: what the parser produces and the fast controller executes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

ActionKind = Literal["forward", "turn_left", "turn_right", "up", "down", "stop"]
ACTION_KINDS: tuple[ActionKind, ...] = ("forward", "turn_left", "turn_right", "up", "down", "stop")

#: Nav-R1's action options, as its prompt lists them.
NAV_R1_ACTION_SPACE: tuple[str, ...] = ("move forward 25cm", "turn left 30°", "turn right 30°", "stop")
#: Extra options for aerial robots (vertical steps), used when the robot profile is a UAV.
UAV_ACTION_SPACE: tuple[str, ...] = (*NAV_R1_ACTION_SPACE[:3], "ascend 25cm", "descend 25cm", "stop")


@dataclass(frozen=True)
class Action:
    """One action: ``forward``/``up``/``down`` in metres, turns in degrees, ``stop`` with 0."""

    kind: ActionKind
    value: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ACTION_KINDS:
            raise ValueError(f"unknown action kind {self.kind!r}; expected one of {ACTION_KINDS}")
        if not math.isfinite(self.value) or self.value < 0.0:
            raise ValueError(f"action magnitude must be finite and non-negative, got {self.value!r}")
        if self.kind == "stop" and self.value != 0.0:
            raise ValueError("a stop action carries no magnitude")

    @property
    def is_turn(self) -> bool:
        """True for ``turn_left`` and ``turn_right``."""
        return self.kind in ("turn_left", "turn_right")

    @property
    def yaw_rad(self) -> float:
        """Signed yaw change in radians (left is positive, REP-103); 0 for non-turns."""
        if self.kind == "turn_left":
            return math.radians(self.value)
        if self.kind == "turn_right":
            return -math.radians(self.value)
        return 0.0

    def to_text(self) -> str:
        """Nav-R1's phrasing of this action, e.g. ``move forward 25cm`` or ``turn left 30°``."""
        if self.kind == "forward":
            return f"move forward {self.value * 100:g}cm"
        if self.kind == "up":
            return f"ascend {self.value * 100:g}cm"
        if self.kind == "down":
            return f"descend {self.value * 100:g}cm"
        if self.is_turn:
            return f"turn {'left' if self.kind == 'turn_left' else 'right'} {self.value:g}°"
        return "stop"
