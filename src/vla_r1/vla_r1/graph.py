"""The arm's node graph: ``ros2 launch vla_r1 arm.launch.py`` and ``vla-r1 up`` are both built from it.

Camera (the RealSense driver, or none when the user runs their own), the VLA node and the
joint-command node, or MoveIt in place of the latter. ``ARM_ARGUMENTS`` declares every argument
once; :func:`build_arm_graph` maps their values to :class:`~r1_core.graph.NodeSpec`s, as
``nav_r1.graph`` does for navigation. ``tests/core/test_arm_graph.py`` checks that the launch file
and the runner start the same nodes with the same settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from r1_core import topics
from r1_core.graph import LaunchArgument, NodeSpec
from r1_core.graph import parse_arguments as _parse
from r1_core.params import ParamError
from r1_core.paths import share_dir

ARM_ARGUMENTS: tuple[LaunchArgument, ...] = (
    LaunchArgument("reasoner", "", "VLA reasoner (required): openai:URL[#model] | transformers:PATH | "
                                   "scripted:FILE.json"),
    LaunchArgument("camera", "realsense",
                   "Workspace RGB-D camera: realsense (realsense2_camera, depth aligned to colour) or none "
                   "(your own driver publishes camera/color/* and camera/depth/image_raw)", ("realsense", "none")),
    LaunchArgument("execution", "direct",
                   "direct: our IK, trajectory streamed by joint_command_node; moveit: MoveIt (moveit_py) plans "
                   "and executes through its controllers", ("direct", "moveit")),
    LaunchArgument("moveit_params_file", "",
                   "The MoveIt configuration as a ROS parameter file (robot_description_semantic, kinematics, "
                   "planning pipelines); required with execution:=moveit"),
    LaunchArgument("params_file", "", "Your arm's parameter file, applied after vla_r1's defaults"),
    LaunchArgument("namespace", "", "Namespace for every node"),
    LaunchArgument("log_level", "info", "Log level of every node", ("debug", "info", "warn", "error")),
)

#: realsense2_camera's own parameters: colour and depth on, depth registered to colour.
REALSENSE_PARAMETERS: Mapping[str, Any] = {
    "enable_color": True, "enable_depth": True, "align_depth": {"enable": True},
}


def parse_arm_arguments(values: Mapping[str, str]) -> dict[str, str]:
    """Argument values with defaults filled in; unknown names and bad choices raise ParamError."""
    return _parse(ARM_ARGUMENTS, values)


def arm_params_file() -> str:
    """The installed defaults of the vla_r1 nodes (``config/vla_r1.yaml``)."""
    path = share_dir("vla_r1") / "config" / "vla_r1.yaml"
    if not path.is_file():
        raise ParamError(f"no vla_r1 parameter file at {path}")
    return str(path)


def build_arm_graph(values: Mapping[str, str]) -> list[NodeSpec]:
    """The processes to start for these argument values, in start order."""
    a = parse_arm_arguments(values)
    reasoner = a["reasoner"].strip()
    if not reasoner:
        raise ParamError("launch argument 'reasoner' is required: reasoner:=openai:http://HOST:8000/v1#MODEL, "
                         "reasoner:=transformers:PATH or reasoner:=scripted:FILE.json")
    files = [arm_params_file()]
    for name in ("params_file", "moveit_params_file"):
        if a[name] and not Path(a[name]).is_file():
            raise ParamError(f"launch argument '{name}': no such file {a[name]}")
    if a["params_file"]:
        files.append(a["params_file"])
    moveit = a["execution"] == "moveit"
    if moveit and not a["moveit_params_file"]:
        raise ParamError("launch argument 'execution' = 'moveit' needs 'moveit_params_file' (MoveIt's "
                         "robot_description_semantic, kinematics and planning settings as a ROS parameter file)")
    if a["moveit_params_file"] and not moveit:
        raise ParamError("launch argument 'moveit_params_file' is only used with execution:=moveit")
    specs: list[NodeSpec] = []
    remaps: tuple[tuple[str, str], ...] = ()
    if a["camera"] == "realsense":
        specs.append(NodeSpec("realsense2_camera", "realsense2_camera_node", "camera",
                              parameters=dict(REALSENSE_PARAMETERS), role="camera"))
        # The driver (node "camera") publishes ~/aligned_depth_to_color/image_raw; ~/color/* match ours.
        remaps = ((topics.DEPTH_IMAGE, "camera/aligned_depth_to_color/image_raw"),)
    vla_files = [*files, a["moveit_params_file"]] if moveit else files
    specs.append(NodeSpec("vla_r1", "vla_node", "vla_node", tuple(vla_files),
                          {"backend": reasoner, "execution": a["execution"]}, remaps, role="vla"))
    if not moveit:  # MoveIt executes through the arm's controllers itself
        specs.append(NodeSpec("vla_r1", "joint_command_node", "joint_command_node", tuple(files), {},
                              role="commands"))
    return specs
