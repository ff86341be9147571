"""Shared by the scene-understanding tests: a tiny box world (a floor, a red cube, a far wall) and its camera."""

from __future__ import annotations

import numpy as np

from nav_r1.scene.memory import CameraIntrinsics, Frame, look_at
from nav_r1.scene.render import RenderBox, render

# A 10x10 m floor, a red 1 m cube at x 2-3 and a wall at x 6 (far enough that DBSCAN separates it).
TINY_WORLD = [
    RenderBox((-5.0, -5.0, -0.02), (8.0, 5.0, 0.0), (0.5, 0.5, 0.5)),
    RenderBox((2.0, -0.5, 0.0), (3.0, 0.5, 1.0), (0.9, 0.1, 0.1), 0),
    RenderBox((6.0, -5.0, 0.0), (6.1, 5.0, 2.5), (0.8, 0.8, 0.8)),
]
CAM = CameraIntrinsics(160, 120, 100.0, 100.0, 79.5, 59.5)


def tiny_frame(eye: tuple[float, float, float] = (0.0, 0.0, 1.2), target: tuple[float, float, float] = (3.0, 0.0, 0.5),
               stamp: float = 0.0) -> tuple[Frame, np.ndarray]:
    pose = look_at(eye, target)
    rgb, depth, inst = render(TINY_WORLD, CAM, pose)
    return Frame(rgb, depth, CAM, pose, stamp), inst

