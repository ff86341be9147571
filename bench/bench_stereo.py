"""Stereo depth throughput at 640x480: each backend on the CPU (and CUDA when present), SGBM as the
baseline in the same run, plus the SGBM node end to end over ROS (publish pairs, count depth out).

    .venv/bin/python bench/bench_stereo.py [--seconds 10] [--no-node]

The learned models' speed does not depend on their weight values, so they run with freshly
initialised weights (no weights file needed): the compact network's default architecture, and
StereoAdapter's real one — Depth Anything V2 ViT-S with PEFT LoRA and 12 ConvGRU iterations
(``--dav2-encoder``; bench/bench_stereo_gpu.py times ViT-S and ViT-B on a GPU).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

from stereo_adapter.data import synth_pair
from stereo_adapter.dav2 import DAv2Config, DAv2StereoNet
from stereo_adapter.learned import LearnedBackend
from stereo_adapter.model import ModelConfig, StereoAdapterNet
from stereo_adapter.sgbm import SgbmBackend, SgbmConfig

H, W = 480, 640


def time_backend(backend, sample, seconds: float, min_runs: int = 3) -> tuple[float, float]:
    """(frames per second, median ms) of backend.compute on one pair."""
    backend.compute(sample.left, sample.right, sample.calib)  # warm-up
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < min_runs:
        t0 = time.perf_counter()
        backend.compute(sample.left, sample.right, sample.calib)
        times.append(time.perf_counter() - t0)
    return len(times) / sum(times), statistics.median(times) * 1e3


def time_node_pipeline(sample, seconds: float) -> float:
    """Frames/s of everything the node does per frame except DDS transport (decode, SGBM, encode)."""
    from stereo_msgs.msg import DisparityImage

    from r1_core.ros.convert import make_camera_info, numpy_to_image
    from stereo_adapter.node import decode_set

    backend = SgbmBackend()
    k = sample.K
    msgs = (numpy_to_image(sample.left, "rgb8", 1.0, "l"), numpy_to_image(sample.right, "rgb8", 1.0, "l"),
            make_camera_info(k, W, H, "l", 1.0), make_camera_info(k, W, H, "r", 1.0, -k[0, 0] * sample.baseline))
    n, t_end = 0, time.perf_counter() + seconds
    t0 = time.perf_counter()
    while time.perf_counter() < t_end or n < 3:
        left, right, calib = decode_set(*msgs)
        res = backend.compute(left, right, calib)
        depth = res.depth(calib, 0.2, 30.0)
        numpy_to_image(depth, "32FC1", 1.0, "l")
        d = DisparityImage()
        d.image = numpy_to_image(np.where(res.valid, res.disparity, -1.0).astype(np.float32), "32FC1", 1.0, "l")
        n += 1
    return n / (time.perf_counter() - t0)


def time_node_ros(sample, seconds: float, rate_hz: float = 30.0) -> tuple[float, float]:
    """Publish pairs at ``rate_hz`` to a stereo_node process; return (depth frames/s received, sent/s)."""
    os.environ["ROS_DOMAIN_ID"] = str(random.randint(100, 200))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    from r1_core.ros.node_main import use_default_dds_profile

    use_default_dds_profile()
    import rclpy
    from sensor_msgs.msg import CameraInfo, Image

    from r1_core.ros.convert import make_camera_info, numpy_to_image, sec_to_stamp
    from r1_core.ros.qos import SENSOR_QOS

    proc = subprocess.Popen([sys.executable, "-m", "stereo_adapter.node"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=os.environ.copy())
    rclpy.init()
    node = rclpy.create_node("stereo_bench")
    pubs = [node.create_publisher(Image, "stereo/left/image_rect", SENSOR_QOS),
            node.create_publisher(Image, "stereo/right/image_rect", SENSOR_QOS),
            node.create_publisher(CameraInfo, "stereo/left/camera_info", SENSOR_QOS),
            node.create_publisher(CameraInfo, "stereo/right/camera_info", SENSOR_QOS)]
    got: list[float] = []
    node.create_subscription(Image, "stereo/depth", lambda _m: got.append(time.perf_counter()), SENSOR_QOS)
    k = sample.K
    msgs = [numpy_to_image(sample.left, "rgb8", 0.0, "l"), numpy_to_image(sample.right, "rgb8", 0.0, "l"),
            make_camera_info(k, W, H, "l", 0.0), make_camera_info(k, W, H, "r", 0.0, -k[0, 0] * sample.baseline)]
    try:
        sent, stamp = 0, 1.0
        start = time.perf_counter()
        measuring_from = None
        while True:
            now = time.perf_counter()
            if measuring_from is None and got:  # the node is up and discovered: start the clock
                measuring_from, sent, got[:] = now, 0, []
            if measuring_from is not None and now - measuring_from > seconds:
                break
            if now - start > seconds + 60:
                raise RuntimeError("stereo_node produced no depth within 60 s")
            stamp += 1.0 / rate_hz
            for m, p in zip(msgs, pubs, strict=True):
                m.header.stamp = sec_to_stamp(stamp)
                p.publish(m)
            sent += 1
            rclpy.spin_once(node, timeout_sec=0.0)
            next_t = now + 1.0 / rate_hz
            while time.perf_counter() < next_t:
                rclpy.spin_once(node, timeout_sec=max(0.0, next_t - time.perf_counter()))
        elapsed = time.perf_counter() - (measuring_from or start)
        return len(got) / elapsed, sent / elapsed
    finally:
        node.destroy_node()
        rclpy.shutdown()
        proc.terminate()
        proc.wait(timeout=10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--no-node", action="store_true", help="skip the ROS end-to-end run")
    ap.add_argument("--dav2-encoder", default="vits", help="Depth Anything V2 preset for the dav2 row")
    ap.add_argument("--threads", type=int, default=0, help="torch/OpenCV threads (0 = library default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
        import cv2

        cv2.setNumThreads(args.threads)
    sample = synth_pair(0, (H, W))
    print(f"stereo bench {W}x{H}, torch threads {torch.get_num_threads()}, CPU cores {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    rows = []
    sgbm_fps, sgbm_ms = time_backend(SgbmBackend(), sample, args.seconds)
    rows.append(("sgbm (3-way, internal LR check)", "cpu", sgbm_fps, sgbm_ms))
    fps, ms = time_backend(SgbmBackend(SgbmConfig(lr_check="full")), sample, args.seconds)
    rows.append(("sgbm (3-way, full LR check)", "cpu", fps, ms))
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for dev in devices:
        torch.manual_seed(0)
        model = StereoAdapterNet(ModelConfig()).to(dev).eval()
        fps, ms = time_backend(LearnedBackend(model), sample, args.seconds, min_runs=2)
        rows.append((f"learned compact ({ModelConfig().iters} GRU iters)", dev, fps, ms))
        torch.manual_seed(0)
        dav2 = DAv2StereoNet(DAv2Config(encoder=args.dav2_encoder)).to(dev).eval()
        fps, ms = time_backend(LearnedBackend(dav2), sample, args.seconds, min_runs=2)
        rows.append((f"learned dav2 {args.dav2_encoder} + LoRA ({dav2.cfg.iters} GRU iters)", dev, fps, ms))
    print("| backend | device | FPS | median ms | vs SGBM |")
    print("|---|---|---|---|---|")
    for name, dev, fps, ms in rows:
        print(f"| {name} | {dev} | {fps:.1f} | {ms:.1f} | {fps / sgbm_fps:.2f}x |")
    pipe = time_node_pipeline(sample, args.seconds)
    print(f"SGBM node pipeline in-process (decode + SGBM + depth + encode): {pipe:.1f} FPS "
          f"({pipe / sgbm_fps:.2f}x SGBM alone)")
    if not args.no_node:
        out, sent = time_node_ros(sample, args.seconds)
        print(f"SGBM node end to end over ROS: {out:.1f} depth frames/s out of {sent:.1f} pairs/s published "
              f"({out / sgbm_fps:.2f}x SGBM alone); target >= 20 FPS: {'met' if out >= 20 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
