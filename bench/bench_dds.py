"""640x480 colour + depth between two processes: our Fast DDS profile against the default transport.

A publisher process sends rgb8 and 32FC1 frames at 30 Hz (RELIABLE, as the lock-stepped sim does);
this process receives them and measures publish-to-receive latency (stamp to arrival, same
clock) and loss. Run once with Fast DDS's built-in transports (the baseline: the 0.5 MiB default
shared-memory segment) and once with ``r1_core/fastdds_profile.xml`` (16 MiB segments).

    .venv/bin/python bench/bench_dds.py [--frames 150]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import numpy as np

PUBLISHER = r"""
import sys, time, numpy as np, rclpy
from sensor_msgs.msg import Image
from r1_core.ros.convert import numpy_to_image
from r1_core.ros.qos import RELIABLE_QOS
n = int(sys.argv[1])
rclpy.init()
node = rclpy.create_node("bench_pub")
rgb_pub = node.create_publisher(Image, "bench/rgb", RELIABLE_QOS)
d_pub = node.create_publisher(Image, "bench/depth", RELIABLE_QOS)
rgb = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
depth = np.random.default_rng(1).random((480, 640), dtype=np.float32) * 5
deadline = time.monotonic() + 20
while (rgb_pub.get_subscription_count() < 1 or d_pub.get_subscription_count() < 1) and time.monotonic() < deadline:
    time.sleep(0.05)
time.sleep(0.5)
for i in range(n):
    t = time.time()
    rgb_pub.publish(numpy_to_image(rgb, "rgb8", t, str(i)))
    d_pub.publish(numpy_to_image(depth, "32FC1", t, str(i)))
    time.sleep(1 / 30)
time.sleep(1.0)
node.destroy_node()
rclpy.shutdown()
"""


def run(frames: int, profile: bool) -> dict[str, float]:
    """Receive ``frames`` pairs from a publisher process; latency percentiles [ms] and loss."""
    env = dict(os.environ)
    env.setdefault("ROS_DOMAIN_ID", str(150 + os.getpid() % 50))
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env.pop("FASTDDS_DEFAULT_PROFILES_FILE", None)
    env.pop("FASTRTPS_DEFAULT_PROFILES_FILE", None)
    if profile:
        from r1_core.ros.node_main import FASTDDS_PROFILE

        env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(FASTDDS_PROFILE)
    code = f"""
import json, sys, time, rclpy
from sensor_msgs.msg import Image
from r1_core.ros.convert import stamp_to_sec
from r1_core.ros.qos import RELIABLE_QOS
rclpy.init()
node = rclpy.create_node("bench_sub")
lat = {{"rgb": [], "depth": []}}
def cb(kind):
    def f(m):
        lat[kind].append((time.time() - stamp_to_sec(m.header.stamp)) * 1e3)
    return f
node.create_subscription(Image, "bench/rgb", cb("rgb"), RELIABLE_QOS)
node.create_subscription(Image, "bench/depth", cb("depth"), RELIABLE_QOS)
pub = __import__("subprocess").Popen([sys.executable, "-c", {PUBLISHER!r}, "{frames}"])
deadline = time.monotonic() + {frames} / 30 + 30
while pub.poll() is None and time.monotonic() < deadline:
    rclpy.spin_once(node, timeout_sec=0.05)
for _ in range(20):
    rclpy.spin_once(node, timeout_sec=0.05)
print(json.dumps(lat))
"""
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, check=True)
    lat = __import__("json").loads(out.stdout.strip().splitlines()[-1])
    both = np.array(lat["rgb"] + lat["depth"])
    received = min(len(lat["rgb"]), len(lat["depth"]))
    return {"p50": float(np.percentile(both, 50)), "p99": float(np.percentile(both, 99)),
            "max": float(both.max()), "lost": float(frames - received)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=150)
    a = p.parse_args()
    base = run(a.frames, profile=False)
    ours = run(a.frames, profile=True)
    print(f"load average {os.getloadavg()[0]:.1f}; {a.frames} pairs of 640x480 rgb8 + 32FC1 at 30 Hz, RELIABLE")
    print(f"{'transport':<34}{'p50 [ms]':>10}{'p99 [ms]':>10}{'max [ms]':>10}{'lost':>6}")
    for name, r in (("Fast DDS defaults (baseline)", base), ("r1 profile (16 MiB SHM)", ours)):
        print(f"{name:<34}{r['p50']:>10.2f}{r['p99']:>10.2f}{r['max']:>10.2f}{r['lost']:>6.0f}")
    print(f"p50 speed-up {base['p50'] / ours['p50']:.1f}x, p99 speed-up {base['p99'] / ours['p99']:.1f}x")


if __name__ == "__main__":
    main()
