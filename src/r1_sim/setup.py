"""ament_python package r1_sim: used by colcon (ROS install) and by pip (no ROS) alike."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "r1_sim"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    package_data={PACKAGE: ['py.typed', 'assets/*']},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools", "r1_core", "r1_description"],
    zip_safe=False,
    maintainer="R1 robots maintainers",
    maintainer_email="maintainers@r1-robots.dev",
    description="Embedded MuJoCo simulator and Habitat backend",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "sim_bridge = r1_sim.bridge_node:main",
        ],
    },
)
