"""Scene memory: fusion into the odom frame, key views, bounds and refused frames."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scene_world import CAM, tiny_frame

from nav_r1.scene.memory import CameraIntrinsics, Frame, MemoryConfig, SceneMemory, look_at
from r1_core.params import ParamError


def test_fused_points_land_on_the_cube_in_the_odom_frame() -> None:
    frame, _inst = tiny_frame()
    memory = SceneMemory(MemoryConfig(voxel_size_m=0.02))
    result = memory.add_frame(frame)
    assert result.accepted and result.new_key_view and result.view_id == 0
    pts = memory.points()
    # Points coloured red are the cube's; every one lies on the cube's surface (odom frame, not camera).
    colors = np.asarray(memory.cloud().colors)
    red = pts[(colors[:, 0] > 0.6) & (colors[:, 1] < 0.3)]
    assert len(red) > 50
    assert np.all(red[:, 0] > 2.0 - 0.03) and np.all(red[:, 0] < 3.0 + 0.03)
    assert np.all(np.abs(red[:, 1]) < 0.5 + 0.03) and np.all(red[:, 2] < 1.0 + 0.03)
    # The camera sees the front face at x = 2 and the top at z = 1.
    assert np.isclose(red[:, 0].min(), 2.0, atol=0.03) and np.isclose(red[:, 2].max(), 1.0, atol=0.03)


def test_new_key_view_only_after_enough_motion() -> None:
    memory = SceneMemory(MemoryConfig(key_view_translation_m=0.5, key_view_rotation_deg=20.0))
    assert memory.add_frame(tiny_frame((0.0, 0.0, 1.2))[0]).new_key_view
    small = memory.add_frame(tiny_frame((0.1, 0.0, 1.2))[0])
    assert small.accepted and not small.new_key_view and small.view_id == 0
    moved = memory.add_frame(tiny_frame((0.7, 0.0, 1.2))[0])
    assert moved.new_key_view and moved.view_id == 1
    turned = memory.add_frame(tiny_frame((0.7, 0.0, 1.2), (3.0, 2.0, 0.5))[0])  # ~34 degrees left
    assert turned.new_key_view and turned.view_id == 2
    assert [v.view_id for v in memory.key_views()] == [0, 1, 2]


def test_oldest_key_views_are_evicted_to_bound_views_and_points() -> None:
    memory = SceneMemory(MemoryConfig(max_key_views=2, key_view_translation_m=0.2))
    for i in range(4):
        memory.add_frame(tiny_frame((0.3 * i, 0.0, 1.2))[0])
    assert [v.view_id for v in memory.key_views()] == [2, 3]
    assert memory.views_evicted == 2
    one = SceneMemory(MemoryConfig(key_view_translation_m=0.2)).add_frame(tiny_frame()[0]).points_added
    budget = SceneMemory(MemoryConfig(max_points=int(one * 1.5), key_view_translation_m=0.2))
    for i in range(3):
        budget.add_frame(tiny_frame((0.3 * i, 0.0, 1.2))[0])
    assert len(budget.points()) <= int(one * 1.5)
    assert [v.view_id for v in budget.key_views()] == [2]


def test_frames_without_pose_or_with_mismatched_camera_info_are_refused_and_change_nothing() -> None:
    frame, _ = tiny_frame()
    memory = SceneMemory()
    no_pose = memory.add_frame(dataclasses.replace(frame, pose=None))
    assert not no_pose.accepted and no_pose.reason.startswith("no_pose:")
    wrong = CameraIntrinsics(320, 240, 50.0, 50.0, 79.5, 59.5)
    mismatch = memory.add_frame(dataclasses.replace(frame, intrinsics=wrong))
    assert not mismatch.accepted and mismatch.reason.startswith("camera_info_mismatch:")
    assert "160x120" in mismatch.reason and "320x240" in mismatch.reason
    skew = np.eye(4)
    skew[0, 1] = 0.5
    assert memory.add_frame(dataclasses.replace(frame, pose=skew)).reason.startswith("bad_pose:")
    nan_pose = look_at((0, 0, 1), (1, 0, 1))
    nan_pose[0, 3] = np.nan
    assert memory.add_frame(dataclasses.replace(frame, pose=nan_pose)).reason.startswith("bad_pose:")
    small_rgb = np.zeros((30, 40, 3), np.uint8)
    assert memory.add_frame(dataclasses.replace(frame, rgb=small_rgb)).reason.startswith("size_mismatch:")
    assert memory.empty and memory.frames_refused == 5 and len(memory.points()) == 0


def test_camera_info_and_config_validation_name_the_field() -> None:
    with pytest.raises(ValueError, match="'width'"):
        CameraIntrinsics(0, 60, 50.0, 50.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="focal"):
        CameraIntrinsics(80, 60, -1.0, 50.0, 1.0, 1.0)
    k = CameraIntrinsics.from_matrix([100.0, 0, 79.5, 0, 100.0, 59.5, 0, 0, 1], 160, 120)
    assert k == CAM
    with pytest.raises(ParamError, match="voxel_size_m"):
        MemoryConfig(voxel_size_m=0.0)


def test_non_finite_depth_is_ignored_not_fused() -> None:
    frame, _ = tiny_frame()
    depth = frame.depth.copy()
    depth[:, :40] = np.nan
    memory = SceneMemory()
    assert memory.add_frame(Frame(frame.rgb, depth, frame.intrinsics, frame.pose)).accepted
    assert np.all(np.isfinite(memory.points()))
