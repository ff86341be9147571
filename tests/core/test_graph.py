"""The launch files and the runner are generated from one graph description and agree."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import pytest
import yaml

from nav_r1.graph import LAUNCH_ARGUMENTS, build_graph, parse_arguments, robot_params_file
from nav_r1.runner import command, entry_point
from r1_core.params import ParamError

LAUNCH_DIR = Path(__file__).resolve().parents[2] / "src" / "nav_r1" / "launch"


class _Recorder:
    """Records constructor arguments, standing in for launch's action classes (same signatures)."""

    def __init__(self, *args, **kwargs) -> None:
        self.args, self.kwargs = args, kwargs


class _LaunchConfiguration:
    def __init__(self, name: str) -> None:
        self.name = name

    def perform(self, context) -> str:
        return context.launch_configurations[self.name]


class _Context:
    def __init__(self, values: dict[str, str]) -> None:
        self.launch_configurations = values


@pytest.fixture
def fake_launch(monkeypatch):
    """Minimal `launch` / `launch_ros` modules exposing the names our launch files import."""
    launch = types.ModuleType("launch")
    launch.LaunchDescription = lambda entities: list(entities)
    actions = types.ModuleType("launch.actions")
    actions.DeclareLaunchArgument = type("DeclareLaunchArgument", (_Recorder,), {})
    actions.OpaqueFunction = type("OpaqueFunction", (_Recorder,), {})
    subs = types.ModuleType("launch.substitutions")
    subs.LaunchConfiguration = _LaunchConfiguration
    launch_ros = types.ModuleType("launch_ros")
    ros_actions = types.ModuleType("launch_ros.actions")
    ros_actions.Node = type("Node", (_Recorder,), {})
    for name, mod in {"launch": launch, "launch.actions": actions, "launch.substitutions": subs,
                      "launch_ros": launch_ros, "launch_ros.actions": ros_actions}.items():
        monkeypatch.setitem(sys.modules, name, mod)
    return actions, ros_actions


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"test_{name}", LAUNCH_DIR / name)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _launch_nodes(file: str, overrides: dict[str, str]):
    desc = _load(file).generate_launch_description()
    declared = {d.args[0]: d.kwargs["default_value"] for d in desc if type(d).__name__ == "DeclareLaunchArgument"}
    assert set(declared) == {a.name for a in LAUNCH_ARGUMENTS}
    values = {**declared, **overrides}
    opaque = [d for d in desc if type(d).__name__ == "OpaqueFunction"]
    assert len(opaque) == 1
    return opaque[0].kwargs["function"](_Context(values)), values


@pytest.mark.parametrize(
    ("file", "overrides"),
    [
        ("robot.launch.py", {"robot": "dog"}),
        ("robot.launch.py", {"robot": "uav", "namespace": "drone1", "reasoner": "openai:http://gpu:8000/v1#qwen"}),
        ("robot.launch.py", {"robot": "wheeled", "depth": "none", "log_level": "debug"}),
        ("robot.launch.py", {"robot": "dog", "obstacles": "process"}),
        ("sim.launch.py", {"robot": "dog", "episodes_file": "/tmp/eps.json", "sync": "true"}),
    ],
)
def test_launch_file_and_runner_start_the_same_nodes(fake_launch, tmp_path, file, overrides) -> None:
    nodes, values = _launch_nodes(file, overrides)
    specs = build_graph(values)
    assert [n.kwargs["name"] for n in nodes] == [s.name for s in specs]
    for node, spec in zip(nodes, specs, strict=True):
        kw = node.kwargs
        assert (kw["package"], kw["executable"]) == (spec.package, spec.executable)
        assert kw["namespace"] == values["namespace"]
        files, inline = kw["parameters"][:-1], kw["parameters"][-1]
        cmd = command(spec, values["namespace"], values["log_level"], tmp_path)
        ros = cmd[cmd.index("--ros-args"):]
        # The runner passes the same parameter files, then the inline parameters as a file of their own.
        passed = [ros[i + 1] for i, a in enumerate(ros) if a == "--params-file"]
        assert passed[:-1] == files
        assert yaml.safe_load(Path(passed[-1]).read_text())["/**"]["ros__parameters"] == inline
        assert f"__node:={spec.name}" in ros
        assert ros[ros.index("--log-level") + 1] == values["log_level"] == kw["arguments"][-1]
        if values["namespace"]:
            assert f"__ns:=/{values['namespace']}" in ros
        assert [f"{a}:={b}" for a, b in kw["remappings"]] == [ros[i + 1] for i, a in enumerate(ros)
                                                             if a == "-r" and not ros[i + 1].startswith("__")]


def test_sim_launch_defaults_to_the_simulator(fake_launch) -> None:
    nodes, values = _launch_nodes("sim.launch.py", {"episodes_file": "/tmp/e.json"})
    assert values["use_sim"] == "true"
    assert nodes[0].kwargs["executable"] == "sim_bridge"
    assert all(n.kwargs["parameters"][-1]["use_sim_time"] is True for n in nodes)


def test_every_node_executable_is_an_installed_console_script() -> None:
    for spec in [*build_graph({"use_sim": "true", "episodes_file": "/tmp/e.json"}),
                 *build_graph({"obstacles": "process"})]:
        module, _, func = entry_point(spec.package, spec.executable).partition(":")
        assert importlib.util.find_spec(module) is not None, module
        assert func == "main"


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"robot": "cat"}, "'robot' = 'cat' is not one of"),
        ({"robt": "dog"}, "unknown launch argument 'robt'; did you mean 'robot'"),
        ({"sync": "true"}, "needs 'use_sim' = 'true'"),
        ({"use_sim": "true"}, "needs launch argument 'episodes_file'"),
        ({"params_file": "/nonexistent.yaml"}, "no such file"),
        ({"use_sim": "true", "episodes_file": "/tmp/e.json", "sync": "true", "obstacles": "process"},
         "'obstacles' = 'process' cannot run with 'sync'"),
    ],
)
def test_bad_launch_arguments_are_named(values, match) -> None:
    with pytest.raises(ParamError, match=match):
        build_graph(values)


def test_parse_arguments_fills_defaults() -> None:
    assert parse_arguments({})["robot"] == "dog"


def test_obstacle_process_gets_the_control_nodes_depth_and_zones(tmp_path) -> None:
    """One place to edit: the obstacle node is handed the control node's settings, overrides included."""
    robot = yaml.safe_load(Path(robot_params_file("dog")).read_text())["/**/control_node"]["ros__parameters"]
    extra = tmp_path / "mine.yaml"
    extra.write_text(yaml.safe_dump({
        "/robot1/control_node": {"ros__parameters": {"depth": {"stride": 2}, "realtime_priority": 50}},
        "/robot2/control_node": {"ros__parameters": {"depth": {"stride": 7}}},  # another robot's: ignored
        "reasoning_node": {"ros__parameters": {"depth": {"stride": 9}}},  # another node's: ignored
    }))
    inline = build_graph({"robot": "dog"})
    assert [s.name for s in inline] == ["reasoning_node", "control_node", "stereo_node"]
    specs = {s.name: s for s in build_graph({"robot": "dog", "obstacles": "process", "params_file": str(extra),
                                             "namespace": "robot1"})}
    obst, ctl = specs["obstacle_node"], specs["control_node"]
    assert obst.parameters["depth"] == {**robot["depth"], "stride": 2}
    assert obst.parameters["zones"] == robot["zones"]
    assert obst.parameters["realtime_priority"] == 49  # one below the control loop
    assert ctl.parameters["obstacle_source"] == "pointcloud"
    assert ctl.parameters["pointcloud_topic"] == "nav_r1/obstacles"
    assert ctl.parameters["pointcloud_frame"] == "base_link"
