"""The launch files and the runner are generated from one graph description and agree."""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path

import pytest
import yaml
from launch_fakes import LaunchContext, load_launch_file

from nav_r1.graph import LAUNCH_ARGUMENTS, build_graph, parse_arguments, robot_params_file
from r1_core.graph import exit_reason
from r1_core.params import ParamError
from r1_core.runner import command, entry_point

LAUNCH_DIR = Path(__file__).resolve().parents[2] / "src" / "nav_r1" / "launch"


def _load(name: str):
    return load_launch_file(LAUNCH_DIR / name)


def _launch_nodes(file: str, overrides: dict[str, str]):
    desc = _load(file).generate_launch_description()
    declared = {d.args[0]: d.kwargs["default_value"] for d in desc if type(d).__name__ == "DeclareLaunchArgument"}
    assert set(declared) == {a.name for a in LAUNCH_ARGUMENTS}
    values = {**declared, **overrides}
    opaque = [d for d in desc if type(d).__name__ == "OpaqueFunction"]
    assert len(opaque) == 1
    actions = opaque[0].kwargs["function"](LaunchContext(values))
    nodes = [a for a in actions if type(a).__name__ == "Node"]
    # Every node comes with its two handlers: output kept, exit ends the launch.
    handlers = [a.args[0] for a in actions if type(a).__name__ == "RegisterEventHandler"]
    for node in nodes:
        assert sorted(type(h).__name__ for h in handlers if h.kwargs["target_action"] is node) == \
            ["OnProcessExit", "OnProcessIO"]
    return nodes, values


@pytest.mark.parametrize(
    ("file", "overrides"),
    [
        ("robot.launch.py", {"robot": "dog", "reasoner": "scripted:/tmp/r.txt"}),
        ("robot.launch.py", {"robot": "uav", "namespace": "drone1", "reasoner": "openai:http://gpu:8000/v1#qwen"}),
        ("robot.launch.py", {"robot": "wheeled", "depth": "none", "log_level": "debug",
                             "reasoner": "scripted:/tmp/r.txt"}),
        ("robot.launch.py", {"robot": "dog", "obstacles": "process", "reasoner": "scripted:/tmp/r.txt"}),
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
                 *build_graph({"obstacles": "process", "reasoner": "scripted:/tmp/r.txt"})]:
        module, _, func = entry_point(spec.package, spec.executable).partition(":")
        assert importlib.util.find_spec(module) is not None, module
        assert func == "main"


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"robot": "cat"}, "'robot' = 'cat' is not one of"),
        ({"robot": "dog"}, "'reasoner' is required on a robot"),
        ({"robot": "dog", "reasoner": "expert", "episodes_file": "/tmp/e.json"}, "cannot drive a real robot"),
        ({"robt": "dog"}, "unknown launch argument 'robt'; did you mean 'robot'"),
        ({"sync": "true"}, "needs 'use_sim' = 'true'"),
        ({"use_sim": "true"}, "needs launch argument 'episodes_file'"),
        ({"params_file": "/nonexistent.yaml", "reasoner": "scripted:/tmp/r.txt"}, "no such file"),
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
    inline = build_graph({"robot": "dog", "reasoner": "scripted:/tmp/r.txt"})
    assert [s.name for s in inline] == ["reasoning_node", "control_node", "stereo_node"]
    specs = {s.name: s for s in build_graph({"robot": "dog", "obstacles": "process", "params_file": str(extra),
                                             "reasoner": "scripted:/tmp/r.txt",
                                             "namespace": "robot1"})}
    obst, ctl = specs["obstacle_node"], specs["control_node"]
    assert obst.parameters["depth"] == {**robot["depth"], "stride": 2}
    assert obst.parameters["zones"] == robot["zones"]
    assert obst.parameters["realtime_priority"] == 49  # one below the control loop
    assert ctl.parameters["obstacle_source"] == "pointcloud"
    assert ctl.parameters["pointcloud_topic"] == "nav_r1/obstacles"
    assert ctl.parameters["pointcloud_frame"] == "base_link"


def test_the_readme_command_without_a_reasoner_fails_before_any_node(fake_launch) -> None:
    """``ros2 launch nav_r1 robot.launch.py robot:=dog``: an error, not a robot without a brain."""
    with pytest.raises(ParamError, match=r"'reasoner' is required on a robot.*reasoner:=openai:"):
        _launch_nodes("robot.launch.py", {"robot": "dog"})


def test_a_node_exit_ends_the_launch_with_its_error_on_screen(fake_launch) -> None:
    desc = _load("robot.launch.py").generate_launch_description()
    (opaque,) = [d for d in desc if type(d).__name__ == "OpaqueFunction"]
    values = {a.name: a.default for a in LAUNCH_ARGUMENTS} | {"reasoner": "scripted:/tmp/r.txt"}
    actions = opaque.kwargs["function"](LaunchContext(values))
    handlers = [a.args[0] for a in actions if type(a).__name__ == "RegisterEventHandler"]
    node = next(a for a in actions if type(a).__name__ == "Node" and a.kwargs["name"] == "control_node")
    io = next(h for h in handlers if type(h).__name__ == "OnProcessIO" and h.kwargs["target_action"] is node)
    on_exit = next(h for h in handlers if type(h).__name__ == "OnProcessExit"
                   and h.kwargs["target_action"] is node).kwargs["on_exit"]
    io.kwargs["on_stdout"](types.SimpleNamespace(text=b"[INFO] starting\n"))
    io.kwargs["on_stderr"](types.SimpleNamespace(text=b"[error] invalid parameters: 'limits.max_vx' must be >= 0\n"))
    (shutdown,) = on_exit(types.SimpleNamespace(returncode=2), LaunchContext())
    assert type(shutdown).__name__ == "Shutdown"
    reason = shutdown.kwargs["reason"]
    assert "node 'control_node' exited with code 2" in reason
    assert "[error] invalid parameters: 'limits.max_vx' must be >= 0" in reason
    # While the launch is already shutting down (Ctrl-C), exits are expected: no second Shutdown.
    assert on_exit(types.SimpleNamespace(returncode=0), LaunchContext(is_shutdown=True)) is None


def test_exit_reason_quotes_the_last_lines() -> None:
    lines = [f"line {i}" for i in range(20)] + ["", "  "]
    text = exit_reason("reasoning_node", 2, lines)
    assert text.startswith("node 'reasoning_node' exited with code 2; stopping the graph")
    assert "line 19" in text and "line 11" not in text  # the last EXIT_TAIL_LINES non-blank lines
    assert exit_reason("sim_bridge", 0, []) == "node 'sim_bridge' exited cleanly; stopping the graph"
