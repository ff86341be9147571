"""ament_python package stereo_adapter: used by colcon (ROS install) and by pip (no ROS) alike."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "stereo_adapter"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    package_data={PACKAGE: ['py.typed']},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools", "r1_core", "r1_sim"],
    zip_safe=False,
    maintainer="R1 robots maintainers",
    maintainer_email="maintainers@r1-robots.dev",
    description="Self-adapting stereo depth",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "stereo_node = stereo_adapter.node:main",
            "stereo-adapt = stereo_adapter.adapt:main",
            "stereo-eval = stereo_adapter.evaluate:main",
        ],
    },
)
