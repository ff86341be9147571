"""``stereo_node``: rectified stereo pair + camera_infos in, depth / disparity / points out.

Threads: the executor's subscription callbacks (one mutually exclusive group) own the
synchroniser and hand a matched set to a one-slot mailbox; the worker thread owns the backend
and does all compute and publishing. A set that arrives while the worker is busy replaces the
waiting one (counted as dropped): the node never queues behind the newest frame.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from stereo_msgs.msg import DisparityImage

from r1_core import topics
from r1_core.params import ParamError
from r1_core.ros.convert import (
    ConversionError,
    image_to_numpy,
    numpy_to_image,
    rgb_from_image,
    stamp_to_sec,
    xyz_to_pointcloud,
)
from r1_core.ros.node_main import run_node
from r1_core.ros.params import declare_config
from r1_core.ros.qos import SENSOR_QOS
from stereo_adapter.backends import (
    DepthBackend,
    StereoCalib,
    StereoInputError,
    calib_from_camera_infos,
    depth_to_points,
)
from stereo_adapter.config import StereoNodeConfig
from stereo_adapter.sgbm import SgbmBackend
from stereo_adapter.sync import ApproxTimeSync

_INPUTS = ("left", "right", "left_info", "right_info")
_ENCODINGS = ("mono8", "8UC1", "rgb8", "bgr8", "rgba8", "bgra8")


def make_backend(cfg: StereoNodeConfig) -> DepthBackend:
    """The configured backend; a bad weights file is a parameter error (the node does not start)."""
    if cfg.backend == "sgbm":
        return SgbmBackend(cfg.sgbm)
    from stereo_adapter.learned import LearnedBackend, WeightsError

    try:
        return LearnedBackend.from_files(cfg.weights, cfg.adapters or None, cfg.device, cfg.iters or None)
    except WeightsError as exc:
        raise ParamError(f"parameter 'weights'/'adapters': {exc}") from exc


def decode_set(left: Image, right: Image, left_info: CameraInfo, right_info: CameraInfo) -> tuple[
        np.ndarray[Any, Any], np.ndarray[Any, Any], StereoCalib]:
    """Messages -> (left, right, calib); raises StereoInputError/ConversionError naming the problem."""
    if left.encoding != right.encoding:
        raise StereoInputError(f"left encoding '{left.encoding}' differs from right '{right.encoding}'")
    if left.encoding not in _ENCODINGS:
        raise StereoInputError(f"unsupported stereo encoding '{left.encoding}'; use one of {list(_ENCODINGS)}")
    if (left.width, left.height) != (right.width, right.height):
        raise StereoInputError(f"left image is {left.width}x{left.height} but right is {right.width}x{right.height}")
    if (left.width, left.height) != (left_info.width, left_info.height):
        raise StereoInputError(f"image is {left.width}x{left.height} but camera_info says "
                               f"{left_info.width}x{left_info.height}")
    if left.encoding in ("mono8", "8UC1"):
        lft, rgt = image_to_numpy(left), image_to_numpy(right)
    else:
        lft, rgt = rgb_from_image(left), rgb_from_image(right)
    k = np.asarray(left_info.k, dtype=np.float64).reshape(3, 3)
    calib = calib_from_camera_infos(k, np.asarray(right_info.p), (left_info.width, left_info.height),
                                    (right_info.width, right_info.height))
    return lft, rgt, calib


class StereoNode(Node):
    """Depth from a rectified stereo pair through a pluggable backend."""

    #: Callbacks only fill the mailbox (the backend runs in the worker): a single-threaded
    #: executor; rclpy's multi-threaded one re-polls in a loop and cost most of a core here.
    executor_kind = "single"

    def __init__(self, **node_kwargs: Any) -> None:
        """``node_kwargs`` go to ``rclpy.node.Node`` (e.g. ``context`` for an in-process test)."""
        super().__init__("stereo_node", **node_kwargs)
        self.cfg = declare_config(self, StereoNodeConfig)
        self.backend = make_backend(self.cfg)
        self._sync: ApproxTimeSync[Any] = ApproxTimeSync(_INPUTS, self.cfg.sync_slop_s)
        group = MutuallyExclusiveCallbackGroup()
        subs = (("left", Image, topics.STEREO_LEFT_IMAGE), ("right", Image, topics.STEREO_RIGHT_IMAGE),
                ("left_info", CameraInfo, topics.STEREO_LEFT_INFO),
                ("right_info", CameraInfo, topics.STEREO_RIGHT_INFO))
        self._subs = [
            self.create_subscription(kind, topic, self._make_cb(name), SENSOR_QOS, callback_group=group)
            for name, kind, topic in subs
        ]
        self._pub_depth = self.create_publisher(Image, topics.STEREO_DEPTH, SENSOR_QOS)
        self._pub_disp = self.create_publisher(DisparityImage, topics.STEREO_DISPARITY, SENSOR_QOS)
        self._pub_points = (self.create_publisher(PointCloud2, topics.STEREO_POINTS, SENSOR_QOS)
                            if self.cfg.publish_points else None)
        self._last_info = {"left": 0.0, "right": 0.0}
        self._first_image: float | None = None
        self._last_error: dict[str, float] = {}
        # Mailbox: written by callbacks, taken by the worker (guarded by _cv).
        self._cv = threading.Condition()
        self._slot: dict[str, Any] | None = None
        self._stop = False
        self._counts = {"in": 0, "out": 0, "dropped": 0, "errors": 0}
        self._compute_ms = 0.0
        self._worker = threading.Thread(target=self._work, name="stereo_worker", daemon=True)
        self._worker.start()
        self._last_report = (time.monotonic(), dict(self._counts))
        self.create_timer(self.cfg.rate_report_s, self._report)
        self.get_logger().info(f"stereo_node: backend '{self.backend.name}', waiting for a stereo pair")

    def _make_cb(self, name: str) -> Any:
        def cb(msg: Any) -> None:
            self._on_msg(name, msg)

        return cb

    def _error(self, text: str) -> None:
        """Log an input error at most once per second per message text."""
        self._counts["errors"] += 1
        now = time.monotonic()
        if now - self._last_error.get(text, -1e9) >= 1.0:
            self._last_error[text] = now
            self.get_logger().error(text)

    def _on_msg(self, name: str, msg: Any) -> None:
        stamp = stamp_to_sec(msg.header.stamp)
        if name.endswith("_info"):
            self._last_info[name[:-5]] = time.monotonic()
        else:
            now = time.monotonic()
            self._first_image = self._first_image or now
            # Complain only once images have come for a second without a fresh camera_info.
            if now - max(self._last_info[name], self._first_image) > 1.0:
                self._error(f"no camera_info on stereo/{name}/camera_info: {name} images are not processed")
        matched = self._sync.push(name, stamp, msg)
        if matched is None:
            return
        self._counts["in"] += 1
        with self._cv:
            if self._slot is not None:
                self._counts["dropped"] += 1
            self._slot = matched
            self._cv.notify()

    def _work(self) -> None:
        while True:
            with self._cv:
                while self._slot is None and not self._stop:
                    self._cv.wait(timeout=0.5)
                if self._stop:
                    return
                matched, self._slot = self._slot, None
            assert matched is not None
            try:
                self._process(matched)
            except (StereoInputError, ConversionError) as exc:
                self._error(f"stereo input rejected: {exc}")
            except Exception as exc:  # a backend failure must not kill the worker thread
                self._error(f"stereo backend failed: {type(exc).__name__}: {exc}")

    def _process(self, m: dict[str, Any]) -> None:
        t0 = time.perf_counter()
        left_msg: Image = m["left"]
        left, right, calib = decode_set(left_msg, m["right"], m["left_info"], m["right_info"])
        result = self.backend.compute(left, right, calib)
        depth = result.depth(calib, self.cfg.min_depth_m, self.cfg.max_depth_m)
        stamp = stamp_to_sec(left_msg.header.stamp)
        frame = left_msg.header.frame_id
        self._pub_depth.publish(numpy_to_image(depth, "32FC1", stamp, frame))
        disp_msg = DisparityImage()
        disp_msg.header = left_msg.header
        disparity = np.where(result.valid, result.disparity, -1.0).astype(np.float32)
        disp_msg.image = numpy_to_image(disparity, "32FC1", stamp, frame)
        disp_msg.f = float(calib.fx)
        disp_msg.t = float(abs(calib.baseline_m))
        disp_msg.valid_window.width, disp_msg.valid_window.height = calib.width, calib.height
        disp_msg.min_disparity = float(result.min_disparity)
        disp_msg.max_disparity = float(result.max_disparity)
        disp_msg.delta_d = 1.0 / 16.0
        self._pub_disp.publish(disp_msg)
        if self._pub_points is not None:
            self._pub_points.publish(xyz_to_pointcloud(depth_to_points(depth, calib, self.cfg.points_stride),
                                                    left_msg.header))
        self._compute_ms = (time.perf_counter() - t0) * 1e3
        self._counts["out"] += 1

    def _report(self) -> None:
        now = time.monotonic()
        t_prev, prev = self._last_report
        dt = max(now - t_prev, 1e-6)
        rates = {k: (self._counts[k] - prev[k]) / dt for k in self._counts}
        self._last_report = (now, dict(self._counts))
        if rates["in"] > 0 or rates["errors"] > 0:
            self.get_logger().info(
                f"rate: {rates['in']:.1f} sets/s in, {rates['out']:.1f} frames/s out, "
                f"{rates['dropped']:.1f}/s dropped, {rates['errors']:.1f}/s rejected, "
                f"last frame {self._compute_ms:.1f} ms"
            )

    def close(self) -> None:
        """Stop the worker thread (called by run_node before destroy_node)."""
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._worker.join(timeout=5.0)


def main(args: Sequence[str] | None = None) -> int:
    """Entry point: ``stereo_node`` (ROS arguments such as ``--ros-args -p backend:=learned``)."""
    return run_node(StereoNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
