"""ROS-free core of stereo_adapter: calibration, input checks, SGBM, data, metrics, underwater, sync."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from stereo_adapter.backends import (
    DepthBackend,
    DisparityResult,
    StereoCalib,
    StereoInputError,
    calib_from_camera_infos,
    check_pair,
    depth_to_points,
    disparity_to_depth,
)
from stereo_adapter.data import SceneConfig, depth_left_to_right, synth_pair
from stereo_adapter.metrics import format_table, mean_metrics, stereo_metrics
from stereo_adapter.sgbm import SgbmBackend, SgbmConfig, left_right_check
from stereo_adapter.sync import ApproxTimeSync, pair_by_time
from stereo_adapter.underwater import PRESETS, WaterParams, degrade_image, underwater_dataset

CALIB = StereoCalib(100.0, 100.0, 31.5, 23.5, 0.1, 64, 48)


@pytest.fixture(scope="module")
def sample():
    return synth_pair(7, (96, 128))


# --- calibration and input checks -------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"baseline_m": 0.0}, "baseline"),
    ({"fx": -1.0}, "focal"),
    ({"fx": float("nan")}, "finite"),
    ({"width": 0}, "size"),
])
def test_calib_rejects_bad_values(kwargs, needle):
    base = {"fx": 100.0, "fy": 100.0, "cx": 1.0, "cy": 1.0, "baseline_m": 0.1, "width": 4, "height": 4}
    with pytest.raises(StereoInputError, match=needle):
        StereoCalib(**{**base, **kwargs})


def test_calib_from_camera_infos_reads_baseline_from_right_projection():
    k = CALIB.matrix()
    p_right = np.zeros((3, 4))
    p_right[:, :3] = k
    p_right[0, 3] = -100.0 * 0.12
    calib = calib_from_camera_infos(k, p_right, (64, 48), (64, 48))
    assert calib.baseline_m == pytest.approx(0.12)
    assert calib.focal_baseline == pytest.approx(12.0)
    p_right[0, 3] = 0.0
    with pytest.raises(StereoInputError, match="zero stereo baseline"):
        calib_from_camera_infos(k, p_right, (64, 48), (64, 48))
    with pytest.raises(StereoInputError, match="camera_info"):
        calib_from_camera_infos(k, p_right, (64, 48), (32, 48))


def test_check_pair_names_the_problem():
    img = np.zeros((48, 64, 3), np.uint8)
    with pytest.raises(StereoInputError, match="differ"):
        check_pair(img, np.zeros((48, 60, 3), np.uint8), CALIB)
    with pytest.raises(StereoInputError, match="camera_info"):
        check_pair(img, img, None)
    with pytest.raises(StereoInputError, match="does not match camera_info"):
        check_pair(np.zeros((40, 64, 3), np.uint8), np.zeros((40, 64, 3), np.uint8), CALIB)
    with pytest.raises(StereoInputError, match="uint8 or float"):
        check_pair(img.astype(np.int32), img.astype(np.int32), CALIB)
    with pytest.raises(StereoInputError, match="HxW"):
        check_pair(np.zeros((48, 64, 4), np.uint8), np.zeros((48, 64, 4), np.uint8), CALIB)
    left, right = check_pair(np.ones((48, 64), np.float32), np.zeros((48, 64), np.float32), CALIB)
    assert left.dtype == np.uint8 and left.max() == 255 and right.max() == 0


def test_depth_and_points_from_disparity():
    disp = np.array([[10.0, 0.0], [5.0, 20.0]], np.float32)
    valid = np.array([[True, False], [True, True]])
    calib = StereoCalib(100.0, 100.0, 0.0, 0.0, 0.1, 2, 2)
    depth = disparity_to_depth(disp, valid, calib, max_depth_m=1.5)
    assert depth[0, 0] == pytest.approx(1.0)
    assert np.isnan(depth[0, 1]) and np.isnan(depth[1, 0])  # invalid; 2 m is beyond max_depth
    assert depth[1, 1] == pytest.approx(0.5)
    pts = depth_to_points(depth, calib)
    assert pts.shape == (2, 3)
    np.testing.assert_allclose(pts[1], [0.5 * 1 / 100, 0.5 * 1 / 100, 0.5], rtol=1e-5)


# --- synthetic data -----------------------------------------------------------------------------

def test_synthetic_pair_is_exactly_consistent(sample):
    """Warping the right view by the true disparity reproduces the left view where visible."""
    d = sample.disparity_gt
    h, w = d.shape
    map_x = (np.arange(w)[None, :] - d).astype(np.float32)
    map_y = np.broadcast_to(np.arange(h)[:, None], (h, w)).astype(np.float32)
    warped = cv2.remap(sample.right, map_x, map_y, cv2.INTER_LINEAR).astype(np.float64)
    err = np.abs(warped - sample.left).mean(axis=2)
    inside = map_x >= 1
    assert np.median(err[inside]) < 4.0  # sensor noise (sigma 1.5) and interpolation only
    assert np.mean(err[inside] < 10) > 0.85  # the rest are occlusions at box edges
    assert sample.depth_right is not None
    assert sample.calib.baseline_m == SceneConfig().baseline_m


def test_depth_left_to_right_matches_rendered_right_depth(sample):
    assert sample.depth_right is not None
    warped = depth_left_to_right(sample.depth_gt, sample.calib.focal_baseline)
    close = np.abs(warped - sample.depth_right) < 0.05 * sample.depth_right
    assert close.mean() > 0.9


# --- SGBM ------------------------------------------------------------------------------------------

def test_sgbm_recovers_synthetic_depth(sample):
    backend = SgbmBackend(SgbmConfig(num_disparities=32))
    assert isinstance(backend, DepthBackend)
    result = backend.compute(sample.left, sample.right, sample.calib)
    m = stereo_metrics(result.disparity, result.valid, sample.depth_gt, sample.calib.focal_baseline)
    assert m["density"] > 0.5
    assert m["abs_rel"] < 0.1
    assert m["delta1"] > 0.9


def test_sgbm_full_lr_check_rejects_more_than_none(sample):
    full = SgbmBackend(SgbmConfig(num_disparities=32, lr_check="full")).compute(
        sample.left, sample.right, sample.calib)
    off = SgbmBackend(SgbmConfig(num_disparities=32, lr_check="off")).compute(
        sample.left, sample.right, sample.calib)
    assert full.valid.sum() < off.valid.sum()
    assert "lr_check_ms" in full.timings_ms


def test_left_right_check_flags_disagreement():
    left = np.full((1, 8), 2.0, np.float32)
    right = np.full((1, 8), 2.0, np.float32)
    right[0, 3] = 5.0  # x=5 maps to x_r=3 where the right view disagrees
    ok = left_right_check(left, right, 1.0)
    assert not ok[0, 5] and not ok[0, 0] and not ok[0, 1]  # x<2 falls outside the right image
    assert ok[0, 2] and ok[0, 4]


def test_sgbm_config_rejects_bad_values():
    with pytest.raises(ValueError, match="multiple of 16"):
        SgbmConfig(num_disparities=40)
    with pytest.raises(ValueError, match="odd"):
        SgbmConfig(block_size=4)
    with pytest.raises(ValueError, match="lr_check"):
        SgbmConfig(lr_check="both")


# --- metrics -----------------------------------------------------------------------------------------

def test_metrics_perfect_and_scaled():
    gt = np.full((4, 4), 2.0, np.float32)
    fb = 10.0
    disp = np.full((4, 4), fb / 2.0, np.float32)
    valid = np.ones((4, 4), bool)
    m = stereo_metrics(disp, valid, gt, fb)
    assert m["abs_rel"] == pytest.approx(0.0) and m["delta1"] == 1.0 and m["epe"] == pytest.approx(0.0)
    m2 = stereo_metrics(disp / 1.5, valid, gt, fb)  # depth 3 m instead of 2 m
    assert m2["abs_rel"] == pytest.approx(0.5) and m2["rmse"] == pytest.approx(1.0)
    assert m2["delta1"] == 0.0 and m2["delta2"] == 1.0
    assert m2["epe"] == pytest.approx(5.0 - 5.0 / 1.5)
    half = valid.copy()
    half[:2] = False
    assert stereo_metrics(disp, half, gt, fb)["density"] == pytest.approx(0.5)
    table = format_table({"a": mean_metrics([m, m2])})
    assert "| a |" in table and "abs_rel" in table


def test_metrics_d1_threshold():
    gt = np.full((1, 2), 1.0, np.float32)  # true disparity 100 px
    disp = np.array([[104.0, 106.0]], np.float32)  # 4 % and 6 % off, both > 3 px
    m = stereo_metrics(disp, np.ones((1, 2), bool), gt, 100.0)
    assert m["d1"] == pytest.approx(0.5)


# --- underwater model ------------------------------------------------------------------------------------

def test_underwater_attenuates_red_with_distance_and_veils_far_pixels():
    white = np.full((2, 2, 3), 255, np.uint8)
    depth = np.array([[0.5, 0.5], [30.0, 30.0]], np.float32)
    params = WaterParams(haze_sigma_px=0.0, noise_sigma=0.0, illumination=1.0)
    out = degrade_image(white, depth, params, np.random.default_rng(0)).astype(float)
    near, far = out[0, 0], out[1, 0]
    assert near[0] > far[0]  # red lost with distance
    assert (near[2] - far[2]) < (near[0] - far[0])  # blue lost less than red
    np.testing.assert_allclose(far / 255.0, params.veiling, atol=0.06)  # far pixels = veiling light


def test_underwater_dataset_keeps_ground_truth_and_is_seeded(sample):
    a = underwater_dataset([sample], "coastal", seed=3)
    b = underwater_dataset([sample], "coastal", seed=3)
    np.testing.assert_array_equal(a[0].left, b[0].left)
    np.testing.assert_array_equal(a[0].depth_gt, sample.depth_gt)
    assert a[0].left.mean(axis=(0, 1))[0] < sample.left.mean(axis=(0, 1))[0]
    with pytest.raises(ValueError, match="preset"):
        underwater_dataset([sample], "swamp")
    assert set(PRESETS) >= {"coastal", "turbid"}


# --- approximate-time sync ------------------------------------------------------------------------------

def test_sync_matches_within_slop_and_drops_older():
    sync: ApproxTimeSync[str] = ApproxTimeSync(("l", "r", "li", "ri"), slop_s=0.01)
    assert sync.push("l", 1.000, "l1") is None
    assert sync.push("r", 1.004, "r1") is None
    assert sync.push("li", 1.000, "li1") is None
    out = sync.push("ri", 1.002, "ri1")
    assert out == {"l": "l1", "r": "r1", "li": "li1", "ri": "ri1"}
    assert sync.pending() == {"l": 0, "r": 0, "li": 0, "ri": 0}
    # A stale left frame is skipped in favour of one that matches the others.
    sync.push("l", 2.0, "stale")
    sync.push("l", 2.1, "l2")
    for name in ("r", "li"):
        assert sync.push(name, 2.1, name + "2") is None
    assert sync.push("ri", 2.105, "ri2") == {"l": "l2", "r": "r2", "li": "li2", "ri": "ri2"}
    assert sync.dropped >= 1
    with pytest.raises(KeyError):
        sync.push("x", 0.0, "?")


def test_sync_never_matches_beyond_slop():
    sync: ApproxTimeSync[int] = ApproxTimeSync(("a", "b"), slop_s=0.01)
    sync.push("a", 1.0, 1)
    assert sync.push("b", 1.05, 2) is None


def test_pair_by_time_offline():
    left = [(0.0, "a"), (0.1, "b"), (0.2, "c")]
    right = [(0.001, "A"), (0.199, "C"), (0.5, "X")]
    assert pair_by_time(left, right, 0.01) == [("a", "A"), ("c", "C")]


def test_disparity_result_depth_uses_calibration():
    res = DisparityResult(np.array([[10.0]], np.float32), np.array([[True]]))
    assert res.depth(StereoCalib(100.0, 100.0, 0.0, 0.0, 0.2, 1, 1))[0, 0] == pytest.approx(2.0)
