"""ament_python package r1_description: used by colcon (ROS install) and by pip (no ROS) alike."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "r1_description"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    package_data={PACKAGE: ['py.typed']},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/urdf", glob("urdf/*.urdf")),
        (f"share/{PACKAGE}/urdf", glob("urdf/*.xacro")),
    ],
    install_requires=["setuptools", "r1_core"],
    zip_safe=False,
    maintainer="R1 robots maintainers",
    maintainer_email="maintainers@r1-robots.dev",
    description="Robot URDFs",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
        ],
    },
)
