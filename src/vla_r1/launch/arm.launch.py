"""Bring up the arm: ``ros2 launch vla_r1 arm.launch.py reasoner:=openai:http://gpu:8000/v1#vla-r1``.

Generated from ``vla_r1.graph`` (the same description ``vla-r1 up`` runs without ROS installed):
camera (realsense2_camera, or none), ``vla_node``, and ``joint_command_node`` or MoveIt
(``execution:=moveit moveit_params_file:=...``). A node that exits ends the launch with its exit
code and last lines on screen (``r1_core.ros.launch_nodes``).
"""

from r1_core.ros.launch_nodes import launch_description
from vla_r1.graph import ARM_ARGUMENTS, build_arm_graph


def generate_launch_description():
    return launch_description(ARM_ARGUMENTS, build_arm_graph)
