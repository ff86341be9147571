"""Fixtures of the core tests."""

from launch_fakes import fake_launch  # noqa: F401  (the fixture, for the launch-file contract tests)
