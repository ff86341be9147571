"""vla_r1: VLA-R1 for arms — reply parsing, 3D lifting, IK and joint trajectories.

Importing the package stays light (no torch, mujoco or rclpy); the heavy parts live in
submodules: :mod:`vla_r1.kinematics` (ikpy), :mod:`vla_r1.sim` (MuJoCo), :mod:`vla_r1.nodes` (rclpy).
"""

from vla_r1.parse import Box, ParsedReply, parse_response

__all__ = ["Box", "ParsedReply", "parse_response"]
