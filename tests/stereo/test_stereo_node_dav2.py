"""stereo_node with the Depth Anything V2 backend: depth out, bad input refused, the node lives on.

The node runs in the test process (its own rclpy context and a private ROS_DOMAIN_ID distinct
from test_stereo_node's), so torch/transformers/PEFT are imported once, not again in a child
process; the harness talks to it over DDS like any other node. Weights: the tiny random
architecture (the node's contract is checked here, not accuracy).
"""

from __future__ import annotations

import os
import threading

import pytest
import torch

rclpy = pytest.importorskip("rclpy")
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from test_stereo_node import H, Harness, W, good_set  # noqa: E402

from stereo_adapter.dav2 import DAv2StereoNet  # noqa: E402
from stereo_adapter.learned import LearnedBackend, save_adapters, save_base  # noqa: E402
from stereo_adapter.pretrain import tiny_dav2_config  # noqa: E402

pytestmark = pytest.mark.ros


@pytest.fixture(scope="module")
def dav2_node(tmp_path_factory):
    from r1_core.ros.node_main import use_default_dds_profile
    from stereo_adapter.node import StereoNode

    tmp = tmp_path_factory.mktemp("stereo_dav2_node")
    torch.manual_seed(0)
    model = DAv2StereoNet(tiny_dav2_config())
    base, adapters = save_base(model, tmp / "base.safetensors"), save_adapters(model, tmp / "adapters.safetensors")
    old = os.environ["ROS_DOMAIN_ID"]
    os.environ["ROS_DOMAIN_ID"] = str((int(old) - 100 + 37) % 101 + 100)
    use_default_dds_profile()
    ctx = rclpy.context.Context()
    rclpy.init(context=ctx, args=[
        "--ros-args", "-p", "backend:=learned", "-p", f"weights:={base}", "-p", f"adapters:={adapters}",
        "-p", "device:=cpu", "-p", "iters:=2", "-p", "max_depth_m:=100.0"])
    node = StereoNode(context=ctx)
    executor = SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    harness = Harness()
    try:
        yield node, harness
    finally:
        harness.close()
        executor.shutdown(timeout_sec=2.0)
        spinner.join(timeout=5.0)
        node.close()
        node.destroy_node()
        rclpy.shutdown(context=ctx)
        os.environ["ROS_DOMAIN_ID"] = old


def test_dav2_backend_node_publishes_depth_and_refuses_bad_pairs(dav2_node, capfd):
    node, harness = dav2_node
    assert isinstance(node.backend, LearnedBackend) and node.backend.model.arch == "dav2"
    assert harness.run(good_set(), 60.0, until_output=True) >= 1
    depth = harness.got["depth"][-1]
    assert depth.encoding == "32FC1" and (depth.height, depth.width) == (H, W)
    assert harness.got["disparity"] and harness.got["disparity"][-1].max_disparity > 0
    harness.spin(1.5)
    n_depth = len(harness.got["depth"])
    capfd.readouterr()
    assert harness.run(good_set(size=(H, W - 8)), 2.0, until_output=False) == 0
    harness.spin(0.5)
    assert "right is" in capfd.readouterr().err  # the node's error log names the mismatch
    assert len(harness.got["depth"]) == n_depth
    assert node._worker.is_alive(), "the worker thread died on bad input"
    assert harness.run(good_set(), 20.0, until_output=True) >= 1
