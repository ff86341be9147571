"""The robots this stack knows, declared once: every package asks this registry for names and kinds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from r1_core.registry import Registry

RobotKind = Literal["mobile", "arm"]


@dataclass(frozen=True)
class RobotInfo:
    """What every package may ask about a robot before loading anything of it."""

    #: ``mobile``: a navigating base (simulator, control presets, nav graph); ``arm``: a manipulator.
    kind: RobotKind
    #: A base that holds altitude and takes vertical commands (UAV action space, 3-D control).
    flies: bool
    #: One line for help texts.
    description: str


ROBOTS: Registry[RobotInfo] = Registry("robot", [
    ("dog", RobotInfo("mobile", False, "quadruped")),
    ("uav", RobotInfo("mobile", True, "multirotor")),
    ("wheeled", RobotInfo("mobile", False, "differential-drive base")),
    ("arm", RobotInfo("arm", False, "6-DoF arm with a parallel gripper")),
])

#: The navigating robots, in declaration order (simulator, control presets, launch choices).
MOBILE_ROBOTS: tuple[str, ...] = tuple(n for n, r in ROBOTS.items() if r.kind == "mobile")

__all__ = ["MOBILE_ROBOTS", "ROBOTS", "RobotInfo", "RobotKind"]
