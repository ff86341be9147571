"""Shared fixtures for the vla_r1 tests."""

import os
import random

import pytest

# Headless rendering on the CPU; must be set before anything imports mujoco.
os.environ.setdefault("MUJOCO_GL", "egl")
# ROS node tests talk over a private domain (set before any rclpy.init or node subprocess).
os.environ.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid() + 5).randint(100, 200)))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

from vla_r1.kinematics import ArmKinematics


@pytest.fixture(scope="session")
def kin() -> ArmKinematics:
    return ArmKinematics()
