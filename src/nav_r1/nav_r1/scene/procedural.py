"""RGB-D views of ``r1_sim`` procedural scenes with exact per-pixel object ids (for data and tests)."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from nav_r1.scene.boxes import Box3D
from nav_r1.scene.memory import CameraIntrinsics, Frame, look_at
from nav_r1.scene.render import RenderBox, render
from r1_sim.scene import FLOOR_RGBA, Box, Scene

WALL_RGB = (0.82, 0.80, 0.76)


def object_box(box: Box) -> Box3D:
    """An ``r1_sim`` box as a :class:`Box3D`."""
    return Box3D(box.center, box.size)


def render_boxes(scene: Scene) -> list[RenderBox]:
    """Floors, walls and furniture (instance id = index in ``scene.objects``)."""
    out = [RenderBox((r.xmin, r.ymin, -0.02), (r.xmax, r.ymax, 0.0), FLOOR_RGBA[r.name][:3]) for r in scene.rooms]
    for w in scene.walls:
        b = object_box(w)
        out.append(RenderBox(tuple(b.min), tuple(b.max), WALL_RGB))
    for i, o in enumerate(scene.objects):
        b = object_box(o.box)
        out.append(RenderBox(tuple(b.min), tuple(b.max), o.rgba[:3], i))
    return out


def default_intrinsics(width: int = 160, height: int = 120, fovy_deg: float = 70.0) -> CameraIntrinsics:
    """A pinhole camera of the given size and vertical field of view."""
    f = (height / 2) / math.tan(math.radians(fovy_deg) / 2)
    return CameraIntrinsics(width, height, f, f, (width - 1) / 2, (height - 1) / 2)


def room_view_poses(scene: Scene, per_room: int = 4, height_m: float = 1.3) -> list[tuple[str, NDArray[np.float64]]]:
    """Cameras near each room's centre looking outward in ``per_room`` directions, slightly down."""
    poses: list[tuple[str, NDArray[np.float64]]] = []
    for room in scene.rooms:
        cx, cy = room.center
        for j in range(per_room):
            yaw = 2 * math.pi * j / per_room + math.pi / 4
            eye = (cx - 0.6 * math.cos(yaw), cy - 0.6 * math.sin(yaw), height_m)
            target = (cx + 2.0 * math.cos(yaw), cy + 2.0 * math.sin(yaw), 0.4)
            poses.append((room.name, look_at(eye, target)))
    return poses


def render_frame(scene: Scene, k: CameraIntrinsics, pose: NDArray[np.float64], stamp: float = 0.0,
                 boxes: list[RenderBox] | None = None) -> tuple[Frame, NDArray[np.int32]]:
    """One RGB-D frame of ``scene`` from ``pose`` and its per-pixel object index (-1: none)."""
    rgb, depth, inst = render(boxes if boxes is not None else render_boxes(scene), k, pose)
    return Frame(rgb, depth, k, pose, stamp), inst


def visible_box_2d(inst: NDArray[np.int32], index: int,
                   min_pixels: int = 30) -> tuple[float, float, float, float] | None:
    """The 2D box [x0, y0, x1, y1) of an object's visible pixels, or None when it shows too little."""
    vs, us = np.nonzero(inst == index)
    if len(us) < min_pixels:
        return None
    return (float(us.min()), float(vs.min()), float(us.max() + 1), float(vs.max() + 1))


__all__ = ["default_intrinsics", "object_box", "render_boxes", "render_frame", "room_view_poses", "visible_box_2d"]
