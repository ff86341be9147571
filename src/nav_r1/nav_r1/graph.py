"""The one description of the node graph: ``ros2 launch`` and ``nav-r1 up`` are both built from it.

``LAUNCH_ARGUMENTS`` declares every argument once (name, default, choices, description); the launch
files turn it into ``DeclareLaunchArgument``s and the runner (:mod:`r1_core.runner`) into
command-line options; the pieces common to every graph are in :mod:`r1_core.graph`.
:func:`build_graph` maps argument values to :class:`NodeSpec`s: which package and executable,
node name, parameter files, inline parameters and remappings. ``tests/core/test_graph.py`` checks
that the launch file and the runner start exactly the same nodes with the same settings.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from r1_core import topics
from r1_core.graph import LaunchArgument, NodeSpec
from r1_core.graph import parse_arguments as _parse
from r1_core.params import ParamError, node_parameters, read_param_file
from r1_core.paths import share_dir
from r1_core.robots import MOBILE_ROBOTS

LAUNCH_ARGUMENTS: tuple[LaunchArgument, ...] = (
    LaunchArgument("robot", "dog", "Robot profile: limits, collision zones, action space", MOBILE_ROBOTS),
    LaunchArgument("use_sim", "false", "Start the embedded simulator bridge and use its /clock", ("true", "false")),
    LaunchArgument("sim_backend", "mujoco", "Simulator backend when use_sim is true", ("mujoco", "habitat")),
    LaunchArgument("habitat_scene", "", "Habitat scene file (.glb) when sim_backend is habitat "
                   "(default: the scene the episodes name)"),
    LaunchArgument("reasoner", "",
                   "Reasoner backend: transformers:PATH_OR_ID | openai:URL[#model] | scripted:FILE | expert "
                   "(simulation only). Required on a robot; in simulation the default is the expert"),
    LaunchArgument("episodes_file", "", "Episode file (simulation; the expert reads it too)"),
    LaunchArgument("depth", "sgbm", "Stereo depth node backend, or none", ("sgbm", "learned", "none")),
    LaunchArgument("obstacles", "inline",
                   "Where depth becomes obstacle points: in the control node (inline) or in obstacle_node's own "
                   "process (process: keeps the frames out of the control loop's process)", ("inline", "process")),
    LaunchArgument("scene", "false", "Answer nav_r1/question in the reasoning node: scene memory, grounding, go-to "
                   "goals and plan steps (3D-R1's tasks)", ("true", "false")),
    LaunchArgument("scene_backend", "", "Scene model when scene is true: empty = the reasoner's own model; "
                   "transformers:DIR | openai:URL[#model] | scripted:FILE (needed with the simulator expert)"),
    LaunchArgument("sync", "false", "Lock-step the nodes with the simulator (reproducible runs)", ("true", "false")),
    LaunchArgument("params_file", "", "Extra ROS parameter file applied after the robot's own"),
    LaunchArgument("namespace", "", "Namespace for every node (one per robot)"),
    LaunchArgument("log_level", "info", "Log level of every node", ("debug", "info", "warn", "error")),
)


NO_REASONER = ("launch argument 'reasoner' is required on a robot (without it the robot has no brain); "
               "pass reasoner:=openai:http://HOST:8000/v1#MODEL (a model server), "
               "reasoner:=transformers:PATH (a local model) or reasoner:=scripted:FILE (bring-up drills)")


def parse_arguments(values: Mapping[str, str]) -> dict[str, str]:
    """Launch-argument values with defaults filled in; unknown names and bad choices raise ParamError."""
    return _parse(LAUNCH_ARGUMENTS, values)


def robot_params_file(robot: str) -> str:
    """The installed parameter file of a robot profile (``config/<robot>.yaml`` of nav_r1)."""
    path = share_dir("nav_r1") / "config" / f"{robot}.yaml"
    if not path.is_file():
        raise ParamError(f"no parameter file for robot '{robot}' at {path}")
    return str(path)


def _control_sections(files: list[str], namespace: str) -> dict[str, Any]:
    """The control node's ``depth``, ``zones``, ``memory``, ``inputs`` and ``realtime_priority`` as the files set them.

    The sections that apply to ``<namespace>/control_node`` count, as rcl would apply them.
    """
    out: dict[str, Any] = {}
    for f in files:
        for params in node_parameters(read_param_file(f), "control_node", namespace):
            for name in ("depth", "zones", "memory", "inputs"):
                if isinstance(params.get(name), dict):
                    out[name] = _merge(out.get(name, {}), params[name])
            if "realtime_priority" in params:
                out["realtime_priority"] = params["realtime_priority"]
    return out


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for k, v in over.items():
        merged[k] = _merge(merged[k], v) if isinstance(v, dict) and isinstance(merged.get(k), dict) else v
    return merged


def _checked_reasoner(a: Mapping[str, str], use_sim: bool) -> str:
    """The reasoner spec for these arguments (``expert`` by default in simulation); ParamError if unusable."""
    reasoner = a["reasoner"].strip() or ("expert" if use_sim else "")
    if not reasoner:
        raise ParamError(NO_REASONER)
    if reasoner.startswith("expert") and not use_sim:
        raise ParamError("launch argument 'reasoner' = 'expert' is the simulator's scripted expert and "
                         "cannot drive a real robot; " + NO_REASONER.split("; ", 1)[1])
    if reasoner.startswith("expert") and not a["episodes_file"]:
        raise ParamError("the expert reasoner needs launch argument 'episodes_file' in simulation")
    return reasoner


def _params_files(a: Mapping[str, str]) -> list[str]:
    """The robot's parameter file, then the user's ``params_file`` (which must exist)."""
    files = [robot_params_file(a["robot"])]
    if a["params_file"]:
        if not Path(a["params_file"]).is_file():
            raise ParamError(f"launch argument 'params_file': no such file {a['params_file']}")
        files.append(a["params_file"])
    return files


def _scene_parameters(a: Mapping[str, str], reasoner: str, files: list[str]) -> dict[str, Any]:
    """The reasoning node's ``scene.*``; its camera is the control node's ``depth.base_T_camera``."""
    if a["scene"] != "true":
        return {}
    if reasoner.startswith("expert") and not a["scene_backend"]:
        raise ParamError("launch argument 'scene' = 'true' with the simulator expert needs 'scene_backend' "
                         "(the expert has no model to answer questions with)")
    scene: dict[str, Any] = {"enabled": True, "backend": a["scene_backend"]}
    camera = _control_sections(files, a["namespace"]).get("depth", {}).get("base_T_camera")
    if camera is not None:
        scene["base_T_camera"] = [float(v) for v in camera]
    return {"scene": scene}


def build_graph(values: Mapping[str, str]) -> list[NodeSpec]:
    """The processes to start for these launch-argument values, in start order."""
    a = parse_arguments(values)
    use_sim = a["use_sim"] == "true"
    sync = a["sync"] == "true"
    if sync and not use_sim:
        raise ParamError("launch argument 'sync' = 'true' needs 'use_sim' = 'true' (lock-step is for simulation)")
    separate = a["obstacles"] == "process"
    if separate and sync:
        raise ParamError("launch argument 'obstacles' = 'process' cannot run with 'sync' = 'true' "
                         "(lock-step waits on the depth frames in the control node)")
    reasoner = _checked_reasoner(a, use_sim)
    files = _params_files(a)
    common: dict[str, Any] = {"use_sim_time": use_sim}
    specs: list[NodeSpec] = []
    if use_sim:
        specs.append(NodeSpec(
            "r1_sim", "sim_bridge", "sim_bridge", tuple(files),
            {**common, "robot": a["robot"], "backend": a["sim_backend"], "episodes_file": a["episodes_file"],
             "habitat_scene": a["habitat_scene"],
             "sim_sync": sync, "publish_stereo": a["depth"] != "none"},
            role="sim",
        ))
    specs.append(NodeSpec(
        "nav_r1", "reasoning_node", "reasoning_node", tuple(files),
        {**common, "backend": reasoner, "episodes_file": a["episodes_file"],
         "action_space": "uav" if a["robot"] == "uav" else "nav", "sim_sync": sync, "reliable_sensors": sync,
         **_scene_parameters(a, reasoner, files)},
        role="reasoning",
    ))
    control: dict[str, Any] = {**common, "sim_sync": sync, "reliable_sensors": sync}
    if separate:
        # The obstacle node gets the control node's own depth and zone settings, so they stay in one place.
        sections = _control_sections(files, a["namespace"])
        prio = int(sections.pop("realtime_priority", 0) or 0)
        specs.append(NodeSpec(
            "nav_r1", "obstacle_node", "obstacle_node", (),
            {**common, **sections, "realtime_priority": max(prio - 1, 0)},
            role="obstacles",
        ))
        control.update({"obstacle_source": "pointcloud", "pointcloud_topic": topics.OBSTACLES,
                        "pointcloud_frame": "base_link"})
    specs.append(NodeSpec(
        "nav_r1", "control_node", "control_node", tuple(files), control, role="control",
    ))
    if a["depth"] != "none":
        specs.append(NodeSpec(
            "stereo_adapter", "stereo_node", "stereo_node", tuple(files),
            {**common, "backend": a["depth"]},
            role="depth",
        ))
    return specs

