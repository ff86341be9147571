"""Bring up the navigation stack on a robot: ``ros2 launch nav_r1 robot.launch.py robot:=dog reasoner:=...``.

Generated from ``nav_r1.graph`` (the same description ``nav-r1 up`` runs without ROS installed):
every argument of ``nav_r1.graph.LAUNCH_ARGUMENTS`` is a launch argument here. ``reasoner:=`` is
required on a robot (the error comes before anything starts); a node that exits ends the launch
with its exit code and last lines on screen (``r1_core.ros.launch_nodes``).
"""

from nav_r1.graph import LAUNCH_ARGUMENTS, build_graph
from r1_core.ros.launch_nodes import launch_description

DEFAULTS: dict[str, str] = {}


def generate_launch_description():
    return launch_description(LAUNCH_ARGUMENTS, build_graph, DEFAULTS)
