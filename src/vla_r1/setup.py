"""ament_python package vla_r1: used by colcon (ROS install) and by pip (no ROS) alike."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "vla_r1"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    package_data={PACKAGE: ['py.typed']},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
    ],
    install_requires=["setuptools", "r1_core", "r1_description"],
    zip_safe=False,
    maintainer="R1 robots maintainers",
    maintainer_email="maintainers@r1-robots.dev",
    description="VLA-R1 arm control stack",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "vla_node = vla_r1.nodes.vla_node:main",
            "joint_command_node = vla_r1.nodes.joint_command_node:main",
            "vla-r1 = vla_r1.cli:main",
        ],
    },
)
