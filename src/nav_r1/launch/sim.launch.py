"""The stack in the embedded simulator: ``ros2 launch nav_r1 sim.launch.py robot:=uav episodes_file:=...``.

The same graph as ``robot.launch.py`` with ``use_sim`` on by default (simulator bridge, /clock).
"""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("nav_r1_robot_launch", Path(__file__).with_name("robot.launch.py"))
_robot = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_robot)
_robot.DEFAULTS.update({"use_sim": "true"})


def generate_launch_description():
    return _robot.generate_launch_description()
