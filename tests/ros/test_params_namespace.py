"""The shipped parameter files reach nodes in any namespace, as rcl itself applies them.

A bare ``control_node:`` key applies to ``/control_node`` only; with ``namespace:=drone1`` the UAV
ran with the planar profile and ``max_vz`` 0. The files use ``/**/<node>`` keys now: a real node
started in ``/drone1`` with the shipped file reads every value back over its parameter service,
and our own loader (``r1_core.params.load_ros_params``) agrees with rcl value for value.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import rclpy
from rcl_interfaces.msg import ParameterType
from rcl_interfaces.srv import GetParameters
from rclpy.executors import SingleThreadedExecutor

from nav_r1.graph import robot_params_file
from r1_core.params import load_ros_params, section_applies

pytestmark = pytest.mark.ros


def _value(v) -> object:
    kind = v.type
    if kind == ParameterType.PARAMETER_BOOL:
        return v.bool_value
    if kind == ParameterType.PARAMETER_INTEGER:
        return v.integer_value
    if kind == ParameterType.PARAMETER_DOUBLE:
        return v.double_value
    if kind == ParameterType.PARAMETER_STRING:
        return v.string_value
    if kind == ParameterType.PARAMETER_DOUBLE_ARRAY:
        return list(v.double_array_value)
    if kind == ParameterType.PARAMETER_INTEGER_ARRAY:
        return list(v.integer_array_value)
    if kind == ParameterType.PARAMETER_STRING_ARRAY:
        return list(v.string_array_value)
    if kind == ParameterType.PARAMETER_BOOL_ARRAY:
        return list(v.bool_array_value)
    return None


def _read_back(ctx, service: str, names: list[str]) -> dict[str, object]:
    node = rclpy.create_node("params_reader", context=ctx)
    try:
        client = node.create_client(GetParameters, service)
        assert client.wait_for_service(timeout_sec=60.0), f"{service} never appeared"
        future = client.call_async(GetParameters.Request(names=names))
        executor = SingleThreadedExecutor(context=ctx)
        rclpy.spin_until_future_complete(node, future, executor=executor, timeout_sec=30.0)
        executor.shutdown()
        assert future.done(), f"no answer from {service}"
        return {n: _value(v) for n, v in zip(names, future.result().values, strict=True)}
    finally:
        node.destroy_node()


@pytest.mark.parametrize(("node", "extra"), [
    ("control_node", ["-p", "realtime_priority:=0"]),
    ("reasoning_node", ["-p", "backend:=openai:http://127.0.0.1:9/v1"]),
])
def test_a_namespaced_node_gets_the_shipped_file(ros_context, node, extra) -> None:
    path = robot_params_file("uav")
    expected = load_ros_params(path, node, namespace="drone1")
    assert expected, f"the loader found no section for /drone1/{node} in {path}"
    if node == "control_node":
        assert expected["profile"] == "uav" and expected["limits.max_vz"] > 0.0
    module = f"nav_r1.nodes.{node}"
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--ros-args", "-r", f"__node:={node}", "-r", "__ns:=/drone1",
         "--params-file", path, *extra],
        env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        got = _read_back(ros_context, f"/drone1/{node}/get_parameters", sorted(expected))
    finally:
        proc.send_signal(2)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    overridden = {a.split(":=")[0] for a in extra if ":=" in a}
    wrong = {k: (got[k], v) for k, v in expected.items()
             if k not in overridden and got[k] != (list(v) if isinstance(v, tuple) else v)}
    assert not wrong, f"(rcl, file) differ: {wrong}"


@pytest.mark.parametrize(("key", "node", "ns", "applies"), [
    ("/**", "control_node", "", True),
    ("/**", "control_node", "drone1", True),
    ("/**/control_node", "control_node", "", True),
    ("/**/control_node", "control_node", "a/b", True),
    ("control_node", "control_node", "", True),
    ("control_node", "control_node", "drone1", False),  # the bug: a bare key is the root namespace only
    ("/control_node", "control_node", "drone1", False),
    ("/drone1/control_node", "control_node", "drone1", True),
    ("/drone1/control_node", "control_node", "drone2", False),
    ("/*/control_node", "control_node", "drone1", True),
    ("/*/control_node", "control_node", "", False),
    ("/**/control_*", "control_node", "x", True),
    ("/**/reasoning_node", "control_node", "", False),
])
def test_section_keys_match_as_rcl_matches_them(key, node, ns, applies) -> None:
    assert section_applies(key, node, ns) is applies


def test_later_sections_override_earlier_ones_in_file_order(tmp_path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("/**/ctl:\n  ros__parameters:\n    a: 1\n    b: 1\n"
                 "/**:\n  ros__parameters:\n    a: 2\n"
                 "/other/ctl:\n  ros__parameters:\n    b: 3\n")
    assert load_ros_params(f, "ctl", "ns") == {"a": 2, "b": 1}
    assert load_ros_params(f, "ctl", "other") == {"a": 2, "b": 3}
