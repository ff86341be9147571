"""Plane geometry shared by every package: one definition of angle wrapping."""

from __future__ import annotations

import math


def wrap_angle(a: float) -> float:
    """``a`` [rad] wrapped to [-pi, pi)."""
    return (a + math.pi) % (2.0 * math.pi) - math.pi


__all__ = ["wrap_angle"]
