"""Intel RealSense IR stereo source through pyrealsense2 (intrinsics and baseline from the device).

The D4xx "Stereo Module" streams two rectified infrared images (index 1 = left, 2 = right);
the baseline is the translation between them from the device's own extrinsics. Tested here
with ``rs.software_device()`` frame injection; a physical camera has not been run in this repo.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stereo_adapter.backends import StereoCalib


class RealSenseError(RuntimeError):
    """No usable device/stream, or frames did not arrive in time."""


@dataclass
class StereoFrame:
    """One synchronised IR pair with its calibration and device timestamp (seconds)."""

    left: NDArray[np.uint8]
    right: NDArray[np.uint8]
    calib: StereoCalib
    stamp_s: float
    frame_number: int


def _rs() -> Any:
    try:
        import pyrealsense2 as rs
    except ImportError as exc:  # the wheel needs the system libusb-1.0
        raise RealSenseError(f"pyrealsense2 is not importable: {exc}") from exc
    return rs


class RealSenseStereoSource:
    """Opens IR streams 1 and 2 (Y8) of a device's stereo sensor and yields matched pairs."""

    def __init__(self, device: Any = None, width: int = 640, height: int = 480, fps: int = 30) -> None:
        rs = _rs()
        self._rs = rs
        if device is None:
            devices = rs.context().query_devices()
            if len(devices) == 0:
                raise RealSenseError("no RealSense device connected")
            device = devices[0]
        self._device = device
        self._sensor, self._profiles = self._find_ir_pair(device, width, height, fps)
        left, right = self._profiles
        intr = left.as_video_stream_profile().get_intrinsics()
        extr = left.get_extrinsics_to(right)
        baseline = float(np.linalg.norm(np.asarray(extr.translation, dtype=np.float64)))
        # StereoCalib rejects a zero baseline with a clear message (uncalibrated device).
        self.calib = StereoCalib(float(intr.fx), float(intr.fy), float(intr.ppx), float(intr.ppy), baseline,
                                 int(intr.width), int(intr.height))
        self._syncer = rs.syncer()
        self._sensor.open(list(self._profiles))
        self._sensor.start(self._syncer)
        self._open = True

    def _find_ir_pair(self, device: Any, width: int, height: int, fps: int) -> tuple[Any, tuple[Any, Any]]:
        rs = self._rs
        for sensor in device.query_sensors():
            found: dict[int, Any] = {}
            for p in sensor.get_stream_profiles():
                if p.stream_type() != rs.stream.infrared or p.format() != rs.format.y8 or p.fps() != fps:
                    continue
                v = p.as_video_stream_profile()
                if (v.width(), v.height()) == (width, height) and p.stream_index() in (1, 2):
                    found.setdefault(p.stream_index(), p)
            if 1 in found and 2 in found:
                return sensor, (found[1], found[2])
        raise RealSenseError(f"no sensor offers infrared streams 1 and 2 as Y8 {width}x{height} @ {fps} fps")

    def read(self, timeout_s: float = 1.0) -> StereoFrame:
        """The next pair whose two IR frames share a frame number; RealSenseError on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            remaining_ms = int(max(0.0, deadline - time.monotonic()) * 1000)
            ok, frames = self._syncer.try_wait_for_frames(max(1, remaining_ms))
            if ok:
                by_index = {f.get_profile().stream_index(): f for f in frames
                            if f.get_profile().stream_type() == self._rs.stream.infrared}
                if 1 in by_index and 2 in by_index \
                        and by_index[1].get_frame_number() == by_index[2].get_frame_number():
                    lf, rf = by_index[1], by_index[2]
                    return StereoFrame(np.array(lf.get_data(), dtype=np.uint8, copy=True),
                                       np.array(rf.get_data(), dtype=np.uint8, copy=True), self.calib,
                                       lf.get_timestamp() / 1000.0, int(lf.get_frame_number()))
            if time.monotonic() >= deadline:
                raise RealSenseError(f"no matched infrared pair within {timeout_s} s")

    def close(self) -> None:
        """Stop and close the sensor (idempotent)."""
        if getattr(self, "_open", False):
            self._sensor.stop()
            self._sensor.close()
            self._open = False

    def __enter__(self) -> RealSenseStereoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
