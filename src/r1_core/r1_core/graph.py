"""What a node graph description is made of, shared by ``ros2 launch`` files and the ROS-less runner.

A graph (navigation: ``nav_r1.graph``; arm: ``vla_r1.graph``) declares its arguments once as
:class:`LaunchArgument`s and maps their values to :class:`NodeSpec`s. The launch files turn both
into ``DeclareLaunchArgument``s and ``launch_ros`` ``Node``s (``r1_core.ros.launch_nodes``);
:mod:`r1_core.runner` turns them into command-line options and processes. Either way, one node
exiting ends the whole graph with :func:`exit_reason` on screen.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from r1_core.params import ParamError


@dataclass(frozen=True)
class LaunchArgument:
    """One launch argument: also a command-line option of the same name of the ROS-less runner."""

    name: str
    default: str
    description: str
    choices: tuple[str, ...] | None = None


@dataclass(frozen=True)
class NodeSpec:
    """One process of the graph."""

    package: str
    executable: str
    name: str
    params_files: tuple[str, ...] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)
    remappings: tuple[tuple[str, str], ...] = ()
    role: str = ""


def parse_arguments(arguments: Sequence[LaunchArgument], values: Mapping[str, str]) -> dict[str, str]:
    """Argument values with defaults filled in; unknown names and bad choices raise ParamError."""
    out = {a.name: a.default for a in arguments}
    names = [a.name for a in arguments]
    for key, value in values.items():
        if key not in out:
            near = difflib.get_close_matches(key, names, n=1)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            raise ParamError(f"unknown launch argument '{key}'{hint}")
        out[key] = str(value)
    for a in arguments:
        if a.choices is not None and out[a.name] not in a.choices:
            near = difflib.get_close_matches(out[a.name], a.choices, n=1)
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            raise ParamError(f"launch argument '{a.name}' = '{out[a.name]}' is not one of {list(a.choices)}{hint}")
    return out


def add_options(parser: argparse.ArgumentParser, arguments: Sequence[LaunchArgument]) -> None:
    """One ``--name`` option per launch argument (same default, choices and help)."""
    for a in arguments:
        parser.add_argument(f"--{a.name}", default=a.default, choices=a.choices, help=a.description)


EXIT_TAIL_LINES = 8
"""How many of a node's last output lines :func:`exit_reason` quotes."""


def exit_reason(name: str, returncode: int, last_lines: Sequence[str]) -> str:
    """Why the graph stops after node ``name`` exited: its exit code and its last output lines.

    The launch files (``OnProcessExit`` -> ``Shutdown(reason=...)``) and the runner both end the
    whole graph when one node exits, and say so with this text: a robot missing a node (a brainless
    robot, an arm without its command stream) is not a running robot.
    """
    how = "exited cleanly" if returncode == 0 else f"exited with code {returncode}"
    lines = [ln.rstrip() for ln in last_lines if ln.strip()][-EXIT_TAIL_LINES:]
    tail = "".join(f"\n    {ln}" for ln in lines)
    return f"node '{name}' {how}; stopping the graph" + (f". Its last lines:{tail}" if tail else "")
