"""Stand-ins for ``launch`` / ``launch_ros`` (not installable here) with the names our launch files use.

The classes record their constructor arguments (same signatures as the real ones), so a test can
run a launch file's ``generate_launch_description`` and its ``OpaqueFunction`` and compare the
``Node`` actions with what the ROS-less runner starts. Imported as ``launch_fakes``.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import pytest


class _Recorder:
    """Records constructor arguments, standing in for launch's action classes (same signatures)."""

    def __init__(self, *args, **kwargs) -> None:
        self.args, self.kwargs = args, kwargs


class _LaunchConfiguration:
    def __init__(self, name: str) -> None:
        self.name = name

    def perform(self, context) -> str:
        return context.launch_configurations[self.name]


class LaunchContext:
    def __init__(self, values: dict[str, str] | None = None, is_shutdown: bool = False) -> None:
        self.launch_configurations = values or {}
        self.is_shutdown = is_shutdown


@pytest.fixture
def fake_launch(monkeypatch: pytest.MonkeyPatch):
    """Minimal `launch` / `launch_ros` modules exposing the names our launch files import (same signatures)."""
    launch = types.ModuleType("launch")
    launch.LaunchDescription = lambda entities: list(entities)
    launch.LaunchContext = LaunchContext
    actions = types.ModuleType("launch.actions")
    for name in ("DeclareLaunchArgument", "OpaqueFunction", "RegisterEventHandler", "Shutdown"):
        setattr(actions, name, type(name, (_Recorder,), {}))
    handlers = types.ModuleType("launch.event_handlers")
    for name in ("OnProcessExit", "OnProcessIO"):
        setattr(handlers, name, type(name, (_Recorder,), {}))
    subs = types.ModuleType("launch.substitutions")
    subs.LaunchConfiguration = _LaunchConfiguration
    launch_ros = types.ModuleType("launch_ros")
    ros_actions = types.ModuleType("launch_ros.actions")
    ros_actions.Node = type("Node", (_Recorder,), {})
    for name, mod in {"launch": launch, "launch.actions": actions, "launch.event_handlers": handlers,
                      "launch.substitutions": subs, "launch_ros": launch_ros, "launch_ros.actions": ros_actions,
                      }.items():
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.delitem(sys.modules, "r1_core.ros.launch_nodes", raising=False)
    return actions, ros_actions


def load_launch_file(path: Path) -> types.ModuleType:
    """Import a ``*.launch.py`` file as ``ros2 launch`` does (by path)."""
    spec = importlib.util.spec_from_file_location(f"launch_file_{path.stem.replace('.', '_')}", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
