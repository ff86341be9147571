"""arm.launch.py and ``vla-r1 up`` are generated from one graph description (vla_r1.graph) and agree."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from launch_fakes import LaunchContext, load_launch_file

from r1_core.params import ParamError
from r1_core.runner import command
from vla_r1.graph import ARM_ARGUMENTS, REALSENSE_PARAMETERS, build_arm_graph

ROOT = Path(__file__).resolve().parents[2]
ARM_LAUNCH = ROOT / "src" / "vla_r1" / "launch" / "arm.launch.py"


def _launch_actions(overrides: dict[str, str]):
    desc = load_launch_file(ARM_LAUNCH).generate_launch_description()
    declared = {d.args[0]: d.kwargs["default_value"] for d in desc if type(d).__name__ == "DeclareLaunchArgument"}
    assert set(declared) == {a.name for a in ARM_ARGUMENTS}
    values = {**declared, **overrides}
    (opaque,) = [d for d in desc if type(d).__name__ == "OpaqueFunction"]
    return opaque.kwargs["function"](LaunchContext(values)), values


@pytest.mark.parametrize("overrides", [
    {"reasoner": "scripted:/tmp/v.json", "camera": "none"},
    {"reasoner": "openai:http://gpu:8000/v1#vla-r1", "camera": "none", "namespace": "arm1", "log_level": "debug"},
])
def test_arm_launch_file_and_runner_start_the_same_nodes(fake_launch, tmp_path, overrides) -> None:
    actions, values = _launch_actions(overrides)
    nodes = [a for a in actions if type(a).__name__ == "Node"]
    specs = build_arm_graph(values)
    assert [n.kwargs["name"] for n in nodes] == [s.name for s in specs] == ["vla_node", "joint_command_node"]
    handlers = [a.args[0] for a in actions if type(a).__name__ == "RegisterEventHandler"]
    for node, spec in zip(nodes, specs, strict=True):
        kw = node.kwargs
        assert (kw["package"], kw["executable"], kw["namespace"]) == (spec.package, spec.executable,
                                                                      values["namespace"])
        assert any(type(h).__name__ == "OnProcessExit" and h.kwargs["target_action"] is node for h in handlers)
        ros = command(spec, values["namespace"], values["log_level"], tmp_path)
        ros = ros[ros.index("--ros-args"):]
        passed = [ros[i + 1] for i, a in enumerate(ros) if a == "--params-file"]
        files, inline = kw["parameters"][:-1], kw["parameters"][-1]
        assert passed[:len(files)] == files
        if inline:
            assert yaml.safe_load(Path(passed[-1]).read_text())["/**"]["ros__parameters"] == inline
        assert ros[ros.index("--log-level") + 1] == values["log_level"] == kw["arguments"][-1]
    assert nodes[0].kwargs["parameters"][-1]["backend"] == values["reasoner"]


def test_realsense_camera_feeds_the_vla_nodes_topics(fake_launch) -> None:
    actions, _ = _launch_actions({"reasoner": "scripted:/tmp/v.json"})
    cam, vla = [a for a in actions if type(a).__name__ == "Node"][:2]
    assert (cam.kwargs["package"], cam.kwargs["executable"], cam.kwargs["name"]) == \
        ("realsense2_camera", "realsense2_camera_node", "camera")
    assert cam.kwargs["parameters"][-1] == dict(REALSENSE_PARAMETERS)
    # The driver's ~/aligned_depth_to_color/image_raw (node "camera") is the depth the VLA node reads.
    assert vla.kwargs["remappings"] == [("camera/depth/image_raw", "camera/aligned_depth_to_color/image_raw")]


def test_moveit_replaces_the_joint_command_node(tmp_path) -> None:
    moveit = tmp_path / "moveit.yaml"
    moveit.write_text("/**:\n  ros__parameters:\n    robot_description_semantic: '<robot/>'\n")
    specs = build_arm_graph({"reasoner": "scripted:/tmp/v.json", "camera": "none", "execution": "moveit",
                             "moveit_params_file": str(moveit)})
    assert [s.name for s in specs] == ["vla_node"]
    assert specs[0].params_files[-1] == str(moveit) and specs[0].parameters["execution"] == "moveit"


@pytest.mark.parametrize(("values", "match"), [
    ({}, "'reasoner' is required"),
    ({"reasoner": "scripted:/x", "execution": "moveit"}, "needs 'moveit_params_file'"),
    ({"reasoner": "scripted:/x", "moveit_params_file": "/nonexistent.yaml"}, "no such file"),
    ({"reasoner": "scripted:/x", "camera": "kinect"}, "'camera' = 'kinect' is not one of"),
    ({"reasoner": "scripted:/x", "camra": "none"}, "did you mean 'camera'"),
])
def test_bad_arm_arguments_are_named(values, match) -> None:
    with pytest.raises(ParamError, match=match):
        build_arm_graph(values)


def test_a_camera_driver_is_found_in_a_sourced_workspace(tmp_path, monkeypatch) -> None:
    (spec,) = [s for s in build_arm_graph({"reasoner": "scripted:/x"}) if s.name == "camera"]
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="no lib/realsense2_camera/realsense2_camera_node in AMENT_PREFIX_PATH"):
        command(spec, "", "info", tmp_path)
    exe = tmp_path / "ws" / "lib" / "realsense2_camera" / "realsense2_camera_node"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("AMENT_PREFIX_PATH", os.pathsep.join([str(tmp_path / "empty"), str(tmp_path / "ws")]))
    cmd = command(spec, "", "info", tmp_path)
    assert cmd[0] == str(exe) and cmd[1] == "--ros-args"


def test_vla_r1_up_without_the_driver_says_so_and_starts_nothing(tmp_path) -> None:
    env = {**os.environ, "AMENT_PREFIX_PATH": ""}
    out = subprocess.run([sys.executable, "-m", "vla_r1.cli", "up", "--reasoner", "scripted:/x",
                          "--run-dir", str(tmp_path)], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "node 'camera'" in out.stderr and "realsense2_camera" in out.stderr
    assert "started" not in out.stderr
