"""Lifting 2D boxes to 3D through depth and the fused cloud; 3D IoU."""

from __future__ import annotations

import numpy as np
import pytest
from scene_world import tiny_frame

from nav_r1.scene.boxes import Box3D, BoxError, iou_3d
from nav_r1.scene.grounding import check_box_2d, lift_box, project_box
from nav_r1.scene.memory import SceneMemory
from nav_r1.scene.procedural import visible_box_2d

CUBE = Box3D((2.5, 0.0, 0.5), (1.0, 1.0, 1.0))


def test_iou_3d_of_known_overlaps() -> None:
    assert iou_3d(CUBE, CUBE) == pytest.approx(1.0)
    half = Box3D((3.0, 0.0, 0.5), (1.0, 1.0, 1.0))  # shifted by half a side: 0.5 / 1.5
    assert iou_3d(CUBE, half) == pytest.approx(1 / 3)
    assert iou_3d(CUBE, Box3D((9.0, 0.0, 0.5), (1.0, 1.0, 1.0))) == 0.0
    inner = Box3D((2.5, 0.0, 0.5), (0.5, 0.5, 0.5))
    assert iou_3d(CUBE, inner) == pytest.approx(0.125)
    with pytest.raises(BoxError, match="size"):
        Box3D((0, 0, 0), (1, -1, 1))
    with pytest.raises(BoxError, match=r"box\.center"):
        Box3D.from_dict({"center": [0, "a", 0], "size": [1, 1, 1]})


def _view_with_cloud() -> tuple[SceneMemory, np.ndarray]:
    memory = SceneMemory()
    frame, inst = tiny_frame()
    memory.add_frame(frame)
    memory.add_frame(tiny_frame((0.8, -1.5, 1.2), (2.5, 0.0, 0.5))[0])  # a second view sees the side
    return memory, inst


def test_lifted_box_matches_the_cube_and_ignores_the_floor_and_wall() -> None:
    memory, inst = _view_with_cloud()
    view = memory.key_views()[0]
    box2d = visible_box_2d(inst, 0)
    assert box2d is not None
    # A loose box (as a model would give) takes in floor and wall pixels around the cube.
    loose = (box2d[0] - 4, box2d[1] - 4, box2d[2] + 4, box2d[3] + 4)
    result = lift_box(view, loose, memory.points())
    assert result.error is None and result.box is not None
    assert iou_3d(result.box, CUBE) > 0.5
    # The view alone sees only the front and top: the fused cloud (second view) adds the far side.
    alone = lift_box(view, loose, None)
    assert alone.box is not None and iou_3d(alone.box, CUBE) < iou_3d(result.box, CUBE)


@pytest.mark.parametrize("bad, code", [
    ([10, 10, 5, 20], "malformed_box"), ([1, 2, 3], "malformed_box"), ("0 0 10 10", "malformed_box"),
    ([0, float("nan"), 10, 10], "malformed_box"), ([True, 0, 10, 10], "malformed_box"),
    ([500, 500, 600, 600], "box_outside_image"),
])
def test_malformed_boxes_are_errors_not_guesses(bad: object, code: str) -> None:
    memory, _ = _view_with_cloud()
    result = lift_box(memory.key_views()[0], bad, memory.points())
    assert result.box is None and result.error is not None and result.error.startswith(code)


def test_a_box_on_empty_sky_has_no_depth() -> None:
    memory, _ = _view_with_cloud()
    view = memory.key_views()[0]
    sky = np.argwhere(view.depth[:, :] == 0)
    assert len(sky) > 0
    v, u = sky[0]
    result = lift_box(view, [u, v, u + 2, v + 2], None)
    assert result.box is None and result.error is not None and result.error.startswith("no_depth")


def test_project_box_roundtrip_contains_the_visible_pixels() -> None:
    memory, inst = _view_with_cloud()
    view = memory.key_views()[0]
    proj = project_box(CUBE, view)
    vis = visible_box_2d(inst, 0)
    assert proj is not None and vis is not None
    assert proj[0] <= vis[0] + 1 and proj[1] <= vis[1] + 1 and proj[2] >= vis[2] - 1 and proj[3] >= vis[3] - 1
    assert project_box(Box3D((-3.0, 0.0, 0.5), (1.0, 1.0, 1.0)), view) is None  # behind the camera
    assert check_box_2d([-5, -5, 10, 10], 80, 60) == (0.0, 0.0, 10.0, 10.0)
