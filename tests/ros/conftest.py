"""ROS tests run on a private ROS_DOMAIN_ID so parallel runs and other graphs never interfere."""

from __future__ import annotations

import os
import random

import pytest

os.environ.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid()).randint(100, 200)))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")


@pytest.fixture
def ros_context():
    """An rclpy context of its own, shut down after the test."""
    import rclpy

    from r1_core.ros.node_main import use_default_dds_profile

    use_default_dds_profile()
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    yield ctx
    if ctx.ok():
        rclpy.shutdown(context=ctx)

# fake_robot is imported by module name from this folder.
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
