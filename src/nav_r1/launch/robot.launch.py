"""Bring up the navigation stack on a robot: ``ros2 launch nav_r1 robot.launch.py robot:=dog``.

Generated from ``nav_r1.graph`` (the same description ``nav-r1 up`` runs without ROS installed):
every argument of ``nav_r1.graph.LAUNCH_ARGUMENTS`` is a launch argument here.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from nav_r1.graph import LAUNCH_ARGUMENTS, build_graph

DEFAULTS: dict[str, str] = {}


def _nodes(context, *args, **kwargs):
    values = {a.name: LaunchConfiguration(a.name).perform(context) for a in LAUNCH_ARGUMENTS}
    namespace = values["namespace"]
    return [
        Node(
            package=spec.package,
            executable=spec.executable,
            name=spec.name,
            namespace=namespace,
            parameters=[*spec.params_files, dict(spec.parameters)],
            remappings=list(spec.remappings),
            arguments=["--ros-args", "--log-level", values["log_level"]],
            output="screen",
            emulate_tty=True,
        )
        for spec in build_graph(values)
    ]


def generate_launch_description():
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                a.name,
                default_value=DEFAULTS.get(a.name, a.default),
                description=a.description,
                **({"choices": list(a.choices)} if a.choices else {}),
            )
            for a in LAUNCH_ARGUMENTS
        ]
        + [OpaqueFunction(function=_nodes)]
    )
