"""The robot parameter files are valid and consistent with the URDFs and the simulator's planner."""

from __future__ import annotations

import numpy as np
import pytest

from nav_r1.control.config import ControlConfig
from nav_r1.graph import robot_params_file
from nav_r1.nodes.reasoning_node import NodeConfig
from nav_r1.reasoning import ReasoningConfig
from r1_core.params import from_mapping, load_ros_params
from r1_core.robots import MOBILE_ROBOTS as ROBOTS
from r1_sim.robots import load_robot_body, robot_profile


def _section(robot: str, node: str) -> dict:
    return load_ros_params(robot_params_file(robot), node)


@pytest.mark.parametrize("robot", ROBOTS)
def test_control_section_is_a_valid_config_matching_the_urdf_camera(robot: str) -> None:
    cfg = from_mapping(ControlConfig, _section(robot, "control_node"))
    optical = load_robot_body(robot).frames["camera_color_optical_frame"]
    assert np.allclose(cfg.depth.base_T_camera[:3], optical[:3, 3], atol=1e-3)
    assert cfg.profile == ("uav" if robot == "uav" else "planar")


@pytest.mark.parametrize("robot", ROBOTS)
def test_stop_zone_stays_inside_the_planner_clearance(robot: str) -> None:
    """A stop zone reaching past the clearance the expert keeps would stop the robot short of its goals."""
    cfg = from_mapping(ControlConfig, _section(robot, "control_node"))
    pts = np.asarray(cfg.zones.stop.points).reshape(-1, 2)
    assert np.hypot(pts[:, 0].max(), 0.0) < robot_profile(robot).radius


@pytest.mark.parametrize("robot", ROBOTS)
def test_reasoning_section_is_valid(robot: str) -> None:
    values = _section(robot, "reasoning_node")
    node_keys = {k for k in values if k in NodeConfig.__dataclass_fields__}
    cfg = from_mapping(ReasoningConfig, {k: v for k, v in values.items() if k not in node_keys})
    assert cfg.action_space == ("uav" if robot == "uav" else "nav")
