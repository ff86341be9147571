"""ament_python package nav_r1: used by colcon (ROS install) and by pip (no ROS) alike."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "nav_r1"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    package_data={PACKAGE: ['py.typed']},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools", "r1_core", "r1_description", "r1_sim", "stereo_adapter", "vla_r1"],
    zip_safe=False,
    maintainer="R1 robots maintainers",
    maintainer_email="maintainers@r1-robots.dev",
    description="Nav-R1 Fast-in-Slow navigation stack",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "reasoning_node = nav_r1.nodes.reasoning_node:main",
            "control_node = nav_r1.nodes.control_node:main",
            "obstacle_node = nav_r1.nodes.obstacle_node:main",
            "nav-r1 = nav_r1.cli:main",
        ],
    },
)
