"""RealSense IR stereo source, driven by rs.software_device() frame injection (no hardware)."""

from __future__ import annotations

import numpy as np
import pytest

from stereo_adapter.backends import StereoInputError
from stereo_adapter.realsense import RealSenseError, RealSenseStereoSource

rs = pytest.importorskip("pyrealsense2", reason="pyrealsense2 needs the system libusb-1.0 library",
                         exc_type=ImportError)

W, H = 64, 48


def make_device(baseline_m: float = 0.05, fx: float = 50.0):
    """A software device with a 'Stereo Module' streaming IR 1 and 2 (Y8) and their extrinsics."""
    dev = rs.software_device()
    sensor = dev.add_sensor("Stereo Module")
    intr = rs.intrinsics()
    intr.width, intr.height = W, H
    intr.fx, intr.fy, intr.ppx, intr.ppy = fx, fx, 31.5, 23.5
    intr.model = rs.distortion.none
    intr.coeffs = [0.0] * 5
    profiles = []
    for idx in (1, 2):
        vs = rs.video_stream()
        vs.type, vs.index, vs.uid = rs.stream.infrared, idx, idx
        vs.width, vs.height, vs.fps, vs.bpp, vs.fmt = W, H, 30, 1, rs.format.y8
        vs.intrinsics = intr
        profiles.append(sensor.add_video_stream(vs))
    extr = rs.extrinsics()
    extr.rotation = [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0]
    extr.translation = [-baseline_m, 0.0, 0.0]
    profiles[0].register_extrinsics_to(profiles[1], extr)
    return dev, sensor, profiles


def inject(sensor, profiles, images, number: int, keep: list) -> None:
    for img, prof in zip(images, profiles, strict=True):
        frame = rs.software_video_frame()
        keep.append(img)  # librealsense reads the buffer after the call returns
        frame.pixels = img
        frame.stride, frame.bpp = W, 1
        frame.timestamp = number * 33.3
        frame.domain = rs.timestamp_domain.hardware_clock
        frame.frame_number = number
        frame.profile = prof.as_video_stream_profile()
        sensor.on_video_frame(frame)


def test_source_reads_injected_ir_pair_with_device_calibration():
    dev, sensor, profiles = make_device(baseline_m=0.05)
    rng = np.random.default_rng(0)
    keep: list = []
    with RealSenseStereoSource(dev, W, H, 30) as source:
        assert source.calib.fx == pytest.approx(50.0)
        assert source.calib.baseline_m == pytest.approx(0.05, rel=1e-5)
        assert (source.calib.width, source.calib.height) == (W, H)
        got = None
        for n in range(1, 6):
            left = rng.integers(0, 255, (H, W), dtype=np.uint8)
            right = np.roll(left, -3, axis=1)
            inject(sensor, profiles, (left, right), n, keep)
            try:
                got = source.read(timeout_s=0.5)
            except RealSenseError:
                continue  # the syncer may hold the very first frame back
            np.testing.assert_array_equal(got.left, left)
            np.testing.assert_array_equal(got.right, right)
            break
        assert got is not None, "no matched pair came out of the syncer"
        assert got.frame_number == n


def test_source_times_out_without_frames():
    dev, _, _ = make_device()
    with RealSenseStereoSource(dev, W, H, 30) as source, pytest.raises(RealSenseError, match="within"):
        source.read(timeout_s=0.2)


def test_source_rejects_missing_streams_and_zero_baseline():
    dev, _, _ = make_device()
    with pytest.raises(RealSenseError, match="infrared streams 1 and 2"):
        RealSenseStereoSource(dev, 640, 480, 30)
    dev0, _, _ = make_device(baseline_m=0.0)
    with pytest.raises(StereoInputError, match="baseline"):
        RealSenseStereoSource(dev0, W, H, 30)
