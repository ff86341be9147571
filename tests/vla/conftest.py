"""Shared fixtures for the vla_r1 tests."""

import os

import pytest

# Headless rendering on the CPU; must be set before anything imports mujoco.
os.environ.setdefault("MUJOCO_GL", "egl")

from vla_r1.kinematics import ArmKinematics


@pytest.fixture(scope="session")
def kin() -> ArmKinematics:
    return ArmKinematics()
