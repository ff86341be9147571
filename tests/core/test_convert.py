"""Image and time conversions without cv_bridge."""

from __future__ import annotations

import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Image

from r1_core.ros.convert import (
    ConversionError,
    camera_info_to_matrix,
    depth_image_to_metres,
    image_to_numpy,
    make_camera_info,
    numpy_to_image,
    quaternion_to_yaw,
    rgb_from_image,
    sec_to_stamp,
    stamp_to_sec,
    yaw_to_quaternion,
)


def test_rgb_round_trip_through_cdr() -> None:
    rgb = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    msg = deserialize_message(serialize_message(numpy_to_image(rgb, "rgb8", 12.5, "cam")), Image)
    assert np.array_equal(rgb_from_image(msg), rgb)
    assert stamp_to_sec(msg.header.stamp) == 12.5 and msg.header.frame_id == "cam"


def test_bgr_and_padded_rows() -> None:
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    msg = numpy_to_image(np.ascontiguousarray(rgb[..., ::-1]), "bgr8", 0.0, "c")
    assert np.array_equal(rgb_from_image(msg), rgb)
    padded = Image(height=2, width=3, encoding="rgb8", step=12)
    padded.data = bytes(np.pad(rgb.reshape(2, 9), ((0, 0), (0, 3))).tobytes())
    assert np.array_equal(image_to_numpy(padded), rgb)


def test_depth_encodings() -> None:
    mm = np.array([[1000, 0], [2500, 65535]], dtype=np.uint16)
    metres = depth_image_to_metres(numpy_to_image(mm, "16UC1", 0.0, "d"))
    assert metres.dtype == np.float32 and np.allclose(metres, [[1.0, 0.0], [2.5, 65.535]])
    f = np.array([[1.5, np.nan]], dtype=np.float32)
    assert np.array_equal(depth_image_to_metres(numpy_to_image(f, "32FC1", 0.0, "d")), f, equal_nan=True)
    with pytest.raises(ConversionError, match="depth encoding"):
        depth_image_to_metres(numpy_to_image(np.zeros((2, 2, 3), np.uint8), "rgb8", 0.0, "d"))


@pytest.mark.parametrize(
    ("msg", "match"),
    [
        (Image(height=2, width=2, encoding="yuv422", step=4), "unsupported image encoding"),
        (Image(height=0, width=2, encoding="mono8", step=2), "empty size"),
        (Image(height=2, width=2, encoding="rgb8", step=3), "smaller than a row"),
        (Image(height=2, width=2, encoding="rgb8", step=6, data=b"\x00" * 5), "expected 12"),
    ],
)
def test_bad_images_raise_conversion_error(msg: Image, match: str) -> None:
    with pytest.raises(ConversionError, match=match):
        image_to_numpy(msg)


def test_camera_info_and_stamps_and_yaw() -> None:
    k = np.array([[200.0, 0, 160], [0, 200.0, 120], [0, 0, 1]])
    info = make_camera_info(k, 320, 240, "cam", 1.0)
    assert np.array_equal(camera_info_to_matrix(info), k)
    with pytest.raises(ConversionError, match="no valid intrinsics"):
        camera_info_to_matrix(make_camera_info(np.zeros((3, 3)), 1, 1, "cam", 0.0))
    assert stamp_to_sec(sec_to_stamp(3.000000001)) == pytest.approx(3.000000001, abs=1e-9)
    with pytest.raises(ValueError):
        sec_to_stamp(-1.0)
    for yaw in (-3.0, -0.5, 0.0, 1.0, 3.1):
        assert quaternion_to_yaw(yaw_to_quaternion(yaw)) == pytest.approx(yaw)
