"""Bag tests: a scripted-phase bag built once per session, and a private ROS_DOMAIN_ID."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest

# Before rclpy.init or any node subprocess: a domain of our own, localhost discovery only.
os.environ.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid() ^ 0xBA6).randint(100, 200)))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
sys.path.insert(0, str(Path(__file__).parent))

from phases import Phases, build_phase_bag


@pytest.fixture(scope="session")
def phase_bag(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Phases]:
    """The scripted bag (MCAP): clear, obstacle 2.5-4.0 s, clear; 6 s in all."""
    path = tmp_path_factory.mktemp("bags") / "phases"
    return path, build_phase_bag(path)
