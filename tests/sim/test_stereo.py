"""Stereo ground truth: pairs are rectified and consistent with depth, K and baseline."""

import numpy as np
import pytest

from r1_sim.stereo import apply_underwater, render_stereo_dataset, water_params


def _gray(img):
    return img.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


@pytest.fixture(scope="module")
def samples():
    return render_stereo_dataset(3, seed=5, size=(160, 120))


def test_shapes_and_types(samples):
    assert len(samples) == 3
    for s in samples:
        assert s.left.shape == s.right.shape == (120, 160, 3) and s.left.dtype == np.uint8
        assert s.depth_gt.shape == (120, 160) and s.depth_gt.dtype == np.float32
        assert s.K.shape == (3, 3) and s.K[0, 2] == pytest.approx(79.5)
        assert s.baseline == pytest.approx(0.10)
        assert np.median(s.depth_gt[s.depth_gt > 0]) >= 0.8
        assert s.depth_right is not None and s.depth_right.shape == s.depth_gt.shape
        assert abs(float(np.median(s.depth_right)) - float(np.median(s.depth_gt))) < 0.5


def test_disparity_from_depth_warps_right_onto_left(samples):
    """Sampling the right image at u - f*b/d reproduces the left; a 15% wrong scale does not."""
    for s in samples:
        left, right = _gray(s.left), _gray(s.right)
        h, w = left.shape
        v, u = np.mgrid[0:h, 0:w]

        errs = []
        for scale in (1.0, 1.15):
            ur = np.round(u - s.disparity_gt * scale).astype(int)
            ok = (s.depth_gt > 0) & (ur >= 0)
            errs.append(np.abs(left[ok] - right[v[ok], ur[ok]]).mean())
        assert errs[0] < 0.6 * errs[1], errs


def test_same_seed_same_pairs():
    a = render_stereo_dataset(1, seed=9, size=(64, 48), underwater=True)
    b = render_stereo_dataset(1, seed=9, size=(64, 48), underwater=True)
    assert np.array_equal(a[0].left, b[0].left) and np.array_equal(a[0].depth_gt, b[0].depth_gt)


def test_underwater_attenuates_red_more_with_distance():
    rng = np.random.default_rng(0)
    params = water_params(rng)
    white = np.full((2, 2, 3), 255, np.uint8)
    near = apply_underwater(white, np.full((2, 2), 0.5, np.float32), params).astype(int)
    far = apply_underwater(white, np.full((2, 2), 8.0, np.float32), params).astype(int)
    assert far[0, 0, 0] < near[0, 0, 0]  # red fades with range
    assert far[0, 0, 0] < far[0, 0, 2]  # far away, blue dominates


def test_negative_count_is_rejected():
    with pytest.raises(ValueError, match="n must be"):
        render_stereo_dataset(-1, seed=0)
