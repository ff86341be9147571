"""Every node name in the graph is unique, for every robot and launch option (issue 13 item 3).

The launch file and ``nav-r1 up`` start each process with a global ``-r __node:=<name>``; a
process that creates a second rclpy node gets that name too, and the graph then holds two
``/control_node`` (on main, the control node's ``control_node_sensing`` helper did). The static
part builds the graph for every combination of options; the live part starts each distinct kind
of process once, with the runner's exact command line, in a namespace of its own on this test's
ROS domain, and lists what rcl sees.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
import rclpy

from nav_r1.graph import LAUNCH_ARGUMENTS, NodeSpec, build_graph
from r1_core.params import ParamError
from r1_core.runner import Graph

pytestmark = pytest.mark.ros

_OPTIONS = {a.name: a.choices for a in LAUNCH_ARGUMENTS if a.choices and a.name not in ("log_level", "sim_backend")}


def _all_graphs(episodes: str) -> list[tuple[dict[str, str], list[NodeSpec]]]:
    out = []
    names = list(_OPTIONS)
    for values in itertools.product(*(_OPTIONS[n] for n in names)):
        args = dict(zip(names, values, strict=True))
        args["episodes_file"] = episodes
        try:
            out.append((args, build_graph(args)))
        except ParamError:
            continue  # a combination the graph refuses (sync without sim, ...)
    return out


def _shape(spec: NodeSpec) -> tuple[object, ...]:
    """What decides which nodes a process creates (not limits, zones or file paths)."""
    p = spec.parameters
    return (spec.package, spec.executable, spec.name, p.get("obstacle_source"), bool(p.get("sim_sync")))


def test_every_graph_names_each_node_once(tmp_path: Path) -> None:
    graphs = _all_graphs(str(tmp_path / "episodes.json"))
    assert len({a["robot"] for a, _ in graphs}) == 3 and len(graphs) > 20
    for args, specs in graphs:
        names = [s.name for s in specs]
        assert len(names) == len(set(names)), (args, names)


def test_each_process_kind_creates_exactly_its_one_node(tmp_path: Path, ros_context) -> None:
    kinds: dict[tuple[object, ...], NodeSpec] = {}
    for _, specs in _all_graphs(str(tmp_path / "episodes.json")):
        for spec in specs:
            # The simulator bridge and the learned stereo backend need a scene / model weights;
            # their node shape does not depend on them, so one sgbm stereo node stands for both.
            if spec.executable == "sim_bridge" or spec.parameters.get("backend") == "learned":
                continue
            kinds.setdefault(_shape(spec), spec)
    replies = tmp_path / "replies.txt"
    replies.write_text("<think>x</think><action>stop</action>\n")
    graphs = []
    for i, spec in enumerate(kinds.values()):
        params = dict(spec.parameters)
        if spec.executable == "reasoning_node":
            params.update(backend=f"scripted:{replies}", episodes_file="")
        graphs.append(Graph([replace(spec, parameters=params)], namespace=f"kind{i}", run_dir=tmp_path / f"k{i}"))
    expected = {f"/kind{i}": spec.name for i, spec in enumerate(kinds.values())}
    assert {s for s in expected.values()} >= {"control_node", "obstacle_node", "reasoning_node"}
    node = rclpy.create_node("names_probe", context=ros_context)
    try:
        for g in graphs:
            g.start()
        seen: list[tuple[str, str]] = []
        deadline = time.monotonic() + 90.0  # cold starts of several processes on a busy machine
        while time.monotonic() < deadline:
            seen = [(ns, n) for n, ns in node.get_node_names_and_namespaces() if ns in expected]
            if {ns for ns, _ in seen} == set(expected):
                break
            dead = [d for g in graphs for d in g.dead()]
            assert not dead, f"exited: {dead}\n" + "\n".join(g.tail(g.specs[0].name) for g in graphs)
            time.sleep(0.2)
        time.sleep(1.0)  # a second node is created in the same constructor: let discovery catch up
        seen = [(ns, n) for n, ns in node.get_node_names_and_namespaces() if ns in expected]
    finally:
        for g in graphs:
            g.stop()
        node.destroy_node()
    counts = Counter(seen)
    assert set(expected.items()) <= set(counts), f"missing: {set(expected.items()) - set(counts)}"
    assert all(c == 1 for c in counts.values()), f"duplicate node names: {counts}"
    for ns in expected:
        assert [n for s, n in seen if s == ns] == [expected[ns]], seen
