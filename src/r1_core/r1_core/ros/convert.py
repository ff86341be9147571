"""Message <-> numpy conversions without cv_bridge (not available as a wheel)."""

from __future__ import annotations

import array
import math
from typing import Any

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Quaternion
from numpy.typing import NDArray
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField

# encoding -> (dtype, channels)
_ENCODINGS: dict[str, tuple[np.dtype[Any], int]] = {
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "rgba8": (np.dtype(np.uint8), 4),
    "bgra8": (np.dtype(np.uint8), 4),
    "mono8": (np.dtype(np.uint8), 1),
    "8UC1": (np.dtype(np.uint8), 1),
    "8UC3": (np.dtype(np.uint8), 3),
    "mono16": (np.dtype(np.uint16), 1),
    "16UC1": (np.dtype(np.uint16), 1),
    "32FC1": (np.dtype(np.float32), 1),
}


class ConversionError(ValueError):
    """A message cannot be converted: unsupported encoding, wrong size, bad step."""


def stamp_to_sec(stamp: Time) -> float:
    """A ``builtin_interfaces/Time`` as float seconds."""
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def sec_to_stamp(t: float) -> Time:
    """Float seconds as a ``builtin_interfaces/Time`` (rounded to the nanosecond)."""
    if not math.isfinite(t) or t < 0.0:
        raise ValueError(f"timestamp must be finite and non-negative, got {t!r}")
    ns = round(t * 1e9)
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def image_to_numpy(msg: Image) -> NDArray[Any]:
    """An Image as (H, W) or (H, W, C) array in its native dtype; raises ConversionError."""
    enc = msg.encoding
    if enc not in _ENCODINGS:
        raise ConversionError(f"unsupported image encoding '{enc}'; supported: {sorted(_ENCODINGS)}")
    dtype, channels = _ENCODINGS[enc]
    h, w = int(msg.height), int(msg.width)
    if h <= 0 or w <= 0:
        raise ConversionError(f"image has empty size {w}x{h}")
    row = w * channels * dtype.itemsize
    step = int(msg.step) or row
    if step < row:
        raise ConversionError(f"image step {step} is smaller than a row of {row} bytes")
    data = msg.data
    buf = np.frombuffer(data if isinstance(data, (bytes, memoryview, array.array)) else bytes(data), dtype=np.uint8)
    if buf.size < step * h:
        raise ConversionError(f"image data has {buf.size} bytes, expected {step * h} for {w}x{h} {enc}")
    rows = buf[: step * h].reshape(h, step)[:, :row]
    arr = np.ascontiguousarray(rows).view(dtype)
    if msg.is_bigendian and dtype.itemsize > 1:  # we view the bytes as little-endian
        arr = arr.byteswap()
    return arr.reshape(h, w, channels) if channels > 1 else arr.reshape(h, w)


def rgb_from_image(msg: Image) -> NDArray[np.uint8]:
    """A colour Image as (H, W, 3) RGB uint8, whatever its 8-bit colour encoding."""
    arr = image_to_numpy(msg)
    if msg.encoding in ("rgb8", "8UC3"):
        return arr
    if msg.encoding == "bgr8":
        return np.ascontiguousarray(arr[..., ::-1])
    if msg.encoding == "rgba8":
        return np.ascontiguousarray(arr[..., :3])
    if msg.encoding == "bgra8":
        return np.ascontiguousarray(arr[..., 2::-1])
    if msg.encoding in ("mono8", "8UC1"):
        return np.repeat(arr[..., None], 3, axis=2)
    raise ConversionError(f"image encoding '{msg.encoding}' is not a colour encoding")


def depth_image_to_metres(msg: Image) -> NDArray[np.float32]:
    """A depth Image (32FC1 metres or 16UC1 millimetres) as float32 metres; 0 and NaN mean no data."""
    arr = image_to_numpy(msg)
    if msg.encoding == "32FC1":
        return arr.astype(np.float32, copy=False)
    if msg.encoding in ("16UC1", "mono16"):
        return arr.astype(np.float32) * np.float32(0.001)
    raise ConversionError(f"depth encoding must be 32FC1 or 16UC1, got '{msg.encoding}'")


def numpy_to_image(arr: NDArray[Any], encoding: str, stamp_s: float, frame_id: str) -> Image:
    """An array as an Image; the data is filled from a bytes buffer (fast, see REFERENCE.md)."""
    if encoding not in _ENCODINGS:
        raise ConversionError(f"unsupported image encoding '{encoding}'")
    dtype, channels = _ENCODINGS[encoding]
    if arr.dtype != dtype:
        raise ConversionError(f"encoding '{encoding}' needs dtype {dtype}, got {arr.dtype}")
    if (channels == 1 and arr.ndim != 2) or (channels > 1 and (arr.ndim != 3 or arr.shape[2] != channels)):
        raise ConversionError(f"encoding '{encoding}' needs {channels} channel(s), got shape {arr.shape}")
    arr = np.ascontiguousarray(arr)
    msg = Image()
    msg.header.stamp = sec_to_stamp(stamp_s)
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(arr.shape[0]), int(arr.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(arr.shape[1] * channels * dtype.itemsize)
    msg.data = array.array("B", arr.tobytes())
    return msg


def camera_info_to_matrix(msg: CameraInfo) -> NDArray[np.float64]:
    """The 3x3 intrinsic matrix K of a CameraInfo; raises ConversionError when it is unset."""
    k = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
    if k[0, 0] <= 0.0 or k[1, 1] <= 0.0 or not np.all(np.isfinite(k)):
        raise ConversionError(f"camera_info for frame '{msg.header.frame_id}' has no valid intrinsics")
    return k


def make_camera_info(
    k: NDArray[np.float64], width: int, height: int, frame_id: str, stamp_s: float, baseline_tx: float = 0.0
) -> CameraInfo:
    """A pinhole CameraInfo (no distortion; ``baseline_tx`` is P[0,3] = -fx·B for a right camera)."""
    msg = CameraInfo()
    msg.header.stamp = sec_to_stamp(stamp_s)
    msg.header.frame_id = frame_id
    msg.width, msg.height = int(width), int(height)
    msg.distortion_model = "plumb_bob"
    msg.d = [0.0] * 5
    msg.k = [float(v) for v in np.asarray(k, dtype=np.float64).reshape(9)]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    p = np.zeros((3, 4))
    p[:, :3] = k
    p[0, 3] = baseline_tx
    msg.p = [float(v) for v in p.reshape(12)]
    return msg


def yaw_to_quaternion(yaw: float) -> Quaternion:
    """A rotation about +z by ``yaw`` radians."""
    return Quaternion(x=0.0, y=0.0, z=math.sin(yaw / 2.0), w=math.cos(yaw / 2.0))


def quaternion_to_yaw(q: Quaternion) -> float:
    """The yaw (rotation about +z) of a quaternion, in radians."""
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def cloud_to_xyz(msg: PointCloud2) -> NDArray[np.float32]:
    """The x, y, z float32 fields of a PointCloud2 as (N, 3); raises ConversionError."""
    fields = {f.name: f for f in msg.fields}
    for name in ("x", "y", "z"):
        f = fields.get(name)
        if f is None or f.datatype != 7:  # PointField.FLOAT32
            raise ConversionError(f"point cloud needs float32 field '{name}'")
    n = int(msg.width) * int(msg.height)
    step = int(msg.point_step)
    data = msg.data
    buf = np.frombuffer(data if isinstance(data, (bytes, memoryview, array.array)) else bytes(data), dtype=np.uint8)
    if n == 0:
        return np.zeros((0, 3), dtype=np.float32)
    if buf.size < n * step or msg.is_bigendian:
        raise ConversionError(f"point cloud data has {buf.size} bytes for {n} points of {step} (little-endian)")
    rows = buf[: n * step].reshape(n, step)
    out = np.empty((n, 3), dtype=np.float32)
    for i, name in enumerate(("x", "y", "z")):
        off = int(fields[name].offset)
        out[:, i] = rows[:, off: off + 4].copy().view(np.float32).reshape(n)
    return out


def xyz_to_pointcloud(points: NDArray[Any], header: Any) -> PointCloud2:
    """An unorganised x, y, z float32 PointCloud2 of ``points`` (N, 3) with ``header``."""
    msg = PointCloud2()
    msg.header = header
    msg.height, msg.width = 1, int(points.shape[0])
    msg.fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1)
                  for i, n in enumerate("xyz")]
    msg.is_bigendian = False
    msg.point_step = 12
    msg.row_step = 12 * msg.width
    msg.is_dense = True
    msg.data = np.ascontiguousarray(points, dtype=np.float32).tobytes()
    return msg
