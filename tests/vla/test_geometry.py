"""Lifting image points to 3D: depth holes, intrinsics, the URDF camera pose."""

import math

import numpy as np
import pytest

from vla_r1.geometry import (
    Intrinsics,
    LiftError,
    backproject,
    lift_normalised,
    pixel_to_normalised,
    project,
    robust_depth,
    transform_points,
)
from vla_r1.urdf import Urdf, homogeneous, rpy_matrix

K = Intrinsics(fx=100.0, fy=100.0, cx=31.5, cy=23.5, width=64, height=48)


def test_backproject_and_project_round_trip():
    p = backproject(10.0, 40.0, 2.0, K)
    np.testing.assert_allclose(p, [(10 - 31.5) * 2 / 100, (40 - 23.5) * 2 / 100, 2.0])
    np.testing.assert_allclose(project(p, K), [10.0, 40.0])
    with pytest.raises(ValueError, match="behind"):
        project(np.array([0.0, 0.0, -1.0]), K)


def test_median_ignores_holes_and_outliers():
    depth = np.full((48, 64), 1.5, dtype=np.float32)
    depth[20:23, 30:33] = 0.0  # hole
    depth[21, 31] = np.nan
    depth[22, 32] = 50.0  # flying pixel beyond range
    depth[24, 34] = 1.7
    assert robust_depth(depth, 31, 21, window=7) == pytest.approx(1.5)


def test_missing_depth_is_refused():
    depth = np.zeros((48, 64), dtype=np.float32)
    depth[0, 0] = 1.0
    with pytest.raises(LiftError, match="no reliable depth"):
        robust_depth(depth, 31, 21, window=5)
    with pytest.raises(LiftError, match="outside"):
        robust_depth(depth, 70, 21)


def test_lift_with_a_known_camera_pose():
    # A camera 1 m above the origin looking straight down: optical z = -base z, x = base -y... built
    # from the same rpy convention as the URDF.
    base_from_cam = homogeneous(rpy_matrix(math.pi, 0.0, 0.0), np.array([0.0, 0.0, 1.0]))
    depth = np.full((48, 64), 1.0, dtype=np.float32)
    x, y = pixel_to_normalised(K.cx, K.cy, K)
    p = lift_normalised(np.array([[x, y]]), depth, K, base_from_cam)
    np.testing.assert_allclose(p, [[0.0, 0.0, 0.0]], atol=1e-9)
    # 10 px right of centre at 1 m and f = 100 px is 0.1 m along optical x = base x.
    x2, _ = pixel_to_normalised(K.cx + 10, K.cy, K)
    p2 = lift_normalised(np.array([[x2, y]]), depth, K, base_from_cam)
    np.testing.assert_allclose(p2[0], [0.1, 0.0, 0.0], atol=1e-9)
    with pytest.raises(LiftError, match="point 0"):
        lift_normalised(np.array([[x, y]]), np.zeros((48, 64), np.float32), K, base_from_cam)
    with pytest.raises(LiftError, match="does not match"):
        lift_normalised(np.array([[x, y]]), np.zeros((10, 10), np.float32), K, base_from_cam)


def test_urdf_camera_pose_looks_at_the_table():
    from r1_description import urdf_path

    urdf = Urdf.load(urdf_path("arm"))
    t = urdf.link_pose("camera_color_optical_frame")
    # Optical z (viewing direction) points forward and down; the optical centre ray hits the table.
    forward = t[:3, 2]
    assert forward[0] > 0.3 and forward[2] < -0.7
    hit = t[:3, 3] + forward * (-t[2, 3] / forward[2])
    assert 0.25 < hit[0] < 0.6 and abs(hit[1]) < 1e-6
    # transform_points agrees with the matrix.
    np.testing.assert_allclose(transform_points(t, np.zeros(3)), t[:3, 3])


def test_intrinsics_from_matrix_rejects_nonsense():
    assert Intrinsics.from_matrix(np.array([[100, 0, 32], [0, 100, 24], [0, 0, 1.0]]), 64, 48).fx == 100
    with pytest.raises(ValueError, match="focal"):
        Intrinsics.from_matrix(np.zeros((3, 3)), 64, 48)
