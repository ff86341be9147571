"""The fast control core (no ROS): plan following, twist mux, collision zones, limits, depth projection."""

from nav_r1.control.config import ControlConfig
from nav_r1.control.controller import FastController
from nav_r1.control.depth import DepthProjector
from nav_r1.control.types import ControlOutput, Odometry, Plan, Progress, SafetyEvent, Twist

__all__ = [
    "ControlConfig",
    "ControlOutput",
    "DepthProjector",
    "FastController",
    "Odometry",
    "Plan",
    "Progress",
    "SafetyEvent",
    "Twist",
]
