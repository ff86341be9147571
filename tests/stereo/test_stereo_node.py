"""stereo_node as a real process on a private ROS_DOMAIN_ID: good pairs give depth, bad ones an error."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

os.environ["ROS_DOMAIN_ID"] = str(random.Random(os.getpid() ^ 0x57E2).randint(100, 200))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

rclpy = pytest.importorskip("rclpy")
from sensor_msgs.msg import CameraInfo, Image, PointCloud2  # noqa: E402
from stereo_msgs.msg import DisparityImage  # noqa: E402

from r1_core.ros.convert import depth_image_to_metres, make_camera_info, numpy_to_image  # noqa: E402
from r1_core.ros.qos import SENSOR_QOS  # noqa: E402
from stereo_adapter.data import synth_pair  # noqa: E402

pytestmark = pytest.mark.ros
H, W = 48, 64


@pytest.fixture(scope="module")
def node_process(tmp_path_factory):
    log = tmp_path_factory.mktemp("stereo_node") / "node.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "RCUTILS_LOGGING_BUFFERED_STREAM": "0"}
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stereo_adapter.node", "--ros-args", "-p", "sgbm.num_disparities:=16",
             "-p", "publish_points:=true", "-p", "rate_report_s:=1.0", "-p", "max_depth_m:=100.0"],
            stdout=fh, stderr=subprocess.STDOUT, env=env,
        )
        try:
            yield proc, log
        finally:
            proc.send_signal(signal.SIGINT)  # run_node's clean shutdown path
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class Harness:
    """Publishes stereo sets and collects the node's outputs."""

    def __init__(self) -> None:
        self.context = rclpy.context.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("stereo_test_harness", context=self.context)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.pubs = {
            "left": self.node.create_publisher(Image, "stereo/left/image_rect", SENSOR_QOS),
            "right": self.node.create_publisher(Image, "stereo/right/image_rect", SENSOR_QOS),
            "left_info": self.node.create_publisher(CameraInfo, "stereo/left/camera_info", SENSOR_QOS),
            "right_info": self.node.create_publisher(CameraInfo, "stereo/right/camera_info", SENSOR_QOS),
        }
        self.got: dict[str, list] = {"depth": [], "disparity": [], "points": []}
        self.node.create_subscription(Image, "stereo/depth", self.got["depth"].append, SENSOR_QOS)
        self.node.create_subscription(DisparityImage, "stereo/disparity", self.got["disparity"].append, SENSOR_QOS)
        self.node.create_subscription(PointCloud2, "stereo/points", self.got["points"].append, SENSOR_QOS)
        self.stamp = 1.0

    def publish(self, left: Image | None, right: Image | None, left_info: CameraInfo | None,
                right_info: CameraInfo | None) -> None:
        self.stamp += 0.1
        stamp = rclpy.time.Time(seconds=self.stamp).to_msg()
        for name, msg in (("left", left), ("right", right), ("left_info", left_info), ("right_info", right_info)):
            if msg is not None:
                msg.header.stamp = stamp
                self.pubs[name].publish(msg)

    def spin(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.05)

    def run(self, msgs, seconds: float, until_output: bool) -> int:
        """Publish ``msgs`` every 0.2 s for up to ``seconds``; return how many depth images came."""
        before = len(self.got["depth"])
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.publish(*msgs())
            self.spin(0.2)
            if until_output and len(self.got["depth"]) > before:
                break
        return len(self.got["depth"]) - before

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


@pytest.fixture(scope="module")
def harness(node_process):
    h = Harness()
    yield h
    h.close()


SAMPLE = synth_pair(3, (H, W))


def good_set(baseline_tx: float | None = None, size: tuple[int, int] = (H, W), encoding: str = "rgb8"):
    k = SAMPLE.K
    tx = -k[0, 0] * SAMPLE.baseline if baseline_tx is None else baseline_tx

    def make():
        left, right = SAMPLE.left, SAMPLE.right
        if size != (H, W):
            right = np.zeros((*size, 3), np.uint8)
        lmsg = numpy_to_image(left, "rgb8", 0.0, "left_optical")
        rmsg = numpy_to_image(right, "rgb8", 0.0, "left_optical")
        if encoding != "rgb8":
            lmsg.encoding = encoding  # a claimed encoding the node must refuse
        return (lmsg, rmsg, make_camera_info(k, W, H, "left_optical", 0.0),
                make_camera_info(k, W, H, "right_optical", 0.0, baseline_tx=tx))

    return make


def wait_for_log(log: Path, needle: str, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if needle in log.read_text():
            return True
        time.sleep(0.1)
    return False


def test_good_pair_gives_depth_disparity_and_points(node_process, harness):
    proc, log = node_process
    assert harness.run(good_set(), 25.0, until_output=True) >= 1, log.read_text()
    harness.spin(0.5)
    depth_msg = harness.got["depth"][-1]
    assert depth_msg.encoding == "32FC1" and (depth_msg.height, depth_msg.width) == (H, W)
    assert depth_msg.header.frame_id == "left_optical"
    depth = depth_image_to_metres(depth_msg)
    ok = np.isfinite(depth)
    assert ok.mean() > 0.3
    rel = np.abs(depth[ok] - SAMPLE.depth_gt[ok]) / SAMPLE.depth_gt[ok]
    assert np.median(rel) < 0.15
    disp = harness.got["disparity"][-1]
    assert disp.f == pytest.approx(SAMPLE.K[0, 0]) and disp.t == pytest.approx(SAMPLE.baseline)
    assert harness.got["points"] and harness.got["points"][-1].width > 0
    assert wait_for_log(log, "frames/s out"), "the node never reported its rate"
    assert proc.poll() is None


@pytest.mark.parametrize(("case", "needle"), [
    ("sizes", "right is"),
    ("encoding", "encoding"),
    ("baseline", "zero stereo baseline"),
    ("no_info", "no camera_info"),
])
def test_bad_input_is_rejected_with_an_error_and_no_output(node_process, harness, case, needle):
    proc, log = node_process
    if case == "sizes":
        make = good_set(size=(H, W - 8))
    elif case == "encoding":
        make = good_set(encoding="32FC1")
    elif case == "baseline":
        make = good_set(baseline_tx=0.0)
    else:
        good = good_set()

        def make():
            left, right, _, _ = good()
            return left, right, None, None

    # Drain outputs of earlier frames; camera_infos also age past the node's 1 s freshness limit.
    harness.spin(1.5)
    before = log.read_text()
    assert harness.run(make, 1.5, until_output=False) == 0
    assert wait_for_log(log, needle), log.read_text()[len(before):]
    assert proc.poll() is None, "the node died on bad input"
    # ... and it still works afterwards.
    assert harness.run(good_set(), 10.0, until_output=True) >= 1
