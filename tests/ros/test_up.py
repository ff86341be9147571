"""``nav-r1 up`` (the ROS-less runner) ends the graph like the launch files do.

A node that exits on a configuration error stops the others, and the runner names it, its exit
code and its last lines; without a reasoner nothing starts at all.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.ros


def _up(args: list[str], timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nav_r1.cli", "up", *args], env=dict(os.environ),
                          capture_output=True, text=True, timeout=timeout)


def test_a_node_failing_on_its_configuration_stops_the_graph_with_its_error(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"/**/control_node": {"ros__parameters": {"limits": {"max_vx": -1.0}}}}))
    out = _up(["--robot", "wheeled", "--reasoner", "openai:http://127.0.0.1:9/v1", "--depth", "none",
               "--params_file", str(bad), "--run-dir", str(tmp_path / "run")])
    assert out.returncode == 1, out.stderr
    assert "node 'control_node' exited with code 2; stopping the graph" in out.stderr, out.stderr
    assert "limits.max_vx" in out.stderr.split("stopping the graph", 1)[1], out.stderr
    # The others were stopped (cleanly), not left running.
    assert "nav-r1 up: stopped reasoning_node (exit 0)" in out.stderr, out.stderr


def test_no_reasoner_no_nodes(tmp_path) -> None:
    out = _up(["--robot", "dog", "--run-dir", str(tmp_path / "run")], timeout=60.0)
    assert out.returncode == 2
    assert "'reasoner' is required on a robot" in out.stderr
    assert "started" not in out.stderr and not (tmp_path / "run").exists()
