"""The shipped parameter file loads into the node configs; bad values are rejected by name."""

from pathlib import Path

import pytest

from r1_core.params import ParamError, from_mapping, load_ros_params
from vla_r1.nodes.joint_command_node import JointCommandConfig
from vla_r1.nodes.vla_node import VlaNodeConfig

CONFIG = Path(__file__).resolve().parents[2] / "src" / "vla_r1" / "config" / "vla_r1.yaml"


def test_shipped_file_loads():
    vla = from_mapping(VlaNodeConfig, load_ros_params(CONFIG, "vla_node"))
    assert vla.backend.startswith("openai:") and vla.planner.depth_window == 7
    jc = from_mapping(JointCommandConfig, load_ros_params(CONFIG, "joint_command_node"))
    assert jc.rate_hz == 100.0 and jc.lock_topics == ("e_stop",)


@pytest.mark.parametrize(
    ("cls", "values", "name"),
    [
        (VlaNodeConfig, {"default_task": "grab"}, "default_task"),
        (VlaNodeConfig, {"coord_scale": "pixel"}, "coord_scale"),
        (VlaNodeConfig, {"planner": {"velocity_scale": 0.0}}, "planner.velocity_scale"),
        (VlaNodeConfig, {"planner": {"depht_window": 5}}, "depth_window"),
        (JointCommandConfig, {"rate_hz": 0.0}, "rate_hz"),
        (JointCommandConfig, {"lock_timeouts": [0.0, 1.0]}, "lock_timeouts"),
        (JointCommandConfig, {"joint_names": ["a", "a"]}, "joint_names"),
    ],
)
def test_bad_parameters_are_rejected_by_name(cls, values, name):
    with pytest.raises(ParamError, match=name.split(".")[-1]):
        from_mapping(cls, values)
