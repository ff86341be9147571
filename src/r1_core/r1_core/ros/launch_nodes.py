"""Turn a graph description (:mod:`r1_core.graph`) into ``ros2 launch`` actions; used by the launch files.

Every node of the graph is a ``launch_ros`` ``Node`` with the settings the ROS-less runner gives
the same :class:`~r1_core.graph.NodeSpec`, plus two event handlers: ``OnProcessIO`` keeps its last
output lines and ``OnProcessExit`` ends the launch with ``Shutdown(reason=exit_reason(...))`` when
it exits, so a node that stops on a configuration error takes the launch down with the error on
screen instead of leaving a robot without, say, its reasoning node. A bad launch argument raises
``ParamError`` from the ``OpaqueFunction`` before any node starts; ``ros2 launch`` prints it.

Only the launch files import this module (``launch`` and ``launch_ros`` come with a ROS install).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, RegisterEventHandler, Shutdown
from launch.event_handlers import OnProcessExit, OnProcessIO
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from r1_core.graph import EXIT_TAIL_LINES, LaunchArgument, NodeSpec, exit_reason


def node_actions(spec: NodeSpec, namespace: str, log_level: str) -> list[Any]:
    """The ``Node`` for one spec and the handlers that end the launch when it exits."""
    node = Node(
        package=spec.package,
        executable=spec.executable,
        name=spec.name,
        namespace=namespace,
        parameters=[*spec.params_files, dict(spec.parameters)],
        remappings=list(spec.remappings),
        arguments=["--ros-args", "--log-level", log_level],
        output="screen",
        emulate_tty=True,
    )
    tail: deque[str] = deque(maxlen=EXIT_TAIL_LINES * 4)

    def keep(event: Any) -> None:
        text = event.text.decode(errors="replace") if isinstance(event.text, bytes) else str(event.text)
        tail.extend(text.splitlines())

    def on_exit(event: Any, context: LaunchContext) -> list[Any] | None:
        if context.is_shutdown:  # the launch is already ending (Ctrl-C, another node's exit)
            return None
        return [Shutdown(reason=exit_reason(spec.name, int(event.returncode), list(tail)))]

    return [
        node,
        RegisterEventHandler(OnProcessIO(target_action=node, on_stdout=keep, on_stderr=keep)),
        RegisterEventHandler(OnProcessExit(target_action=node, on_exit=on_exit)),
    ]


def launch_description(arguments: Sequence[LaunchArgument], build: Callable[[Mapping[str, str]], list[NodeSpec]],
                       defaults: Mapping[str, str] | None = None) -> LaunchDescription:
    """Declare ``arguments`` (with ``defaults`` overriding theirs) and start the nodes ``build`` returns.

    ``build`` gets every argument's value; the arguments ``namespace`` and ``log_level``, when
    declared, apply to every node.
    """
    defaults = defaults or {}

    def nodes(context: LaunchContext, *args: Any, **kwargs: Any) -> list[Any]:
        values = {a.name: LaunchConfiguration(a.name).perform(context) for a in arguments}
        actions: list[Any] = []
        for spec in build(values):
            actions += node_actions(spec, values.get("namespace", ""), values.get("log_level", "info"))
        return actions

    declared: list[Any] = [
        DeclareLaunchArgument(
            a.name,
            default_value=defaults.get(a.name, a.default),
            description=a.description,
            **({"choices": list(a.choices)} if a.choices else {}),
        )
        for a in arguments
    ]
    return LaunchDescription([*declared, OpaqueFunction(function=nodes)])
