"""The standalone recorder process behind ``nav-r1 record``: discover topics, record, stop cleanly."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter

from nav_r1.bag.reader import norm_topic
from nav_r1.bag.record import BagRecorder, RecorderStats
from r1_core.ros.node_main import use_default_dds_profile


def discover(node: Node, topics: Sequence[str], wait_s: float) -> dict[str, str]:
    """The subset of ``topics`` advertised within ``wait_s``, with their type names."""
    wanted = {norm_topic(t): t for t in topics}
    found: dict[str, str] = {}
    deadline = time.monotonic() + wait_s
    while True:
        for name, types in node.get_topic_names_and_types():
            key = norm_topic(name)
            if key in wanted and types:
                found[wanted[key]] = types[0]
        if len(found) == len(wanted) or time.monotonic() >= deadline:
            return found
        time.sleep(0.1)


def record_until(output: Path, topics: Sequence[str], duration_s: float, discover_s: float,
                 use_sim_time: bool) -> RecorderStats:
    """Record ``topics`` (those advertised) to ``output`` for ``duration_s`` (0: until Ctrl-C)."""
    if output.exists():
        raise FileExistsError(f"bag path '{output}' exists")
    use_default_dds_profile()
    rclpy.init()
    node = Node("nav_r1_recorder", parameter_overrides=[Parameter("use_sim_time", value=use_sim_time)])
    # One thread: the bag writer is not thread-safe, and rclpy's MultiThreadedExecutor busy-polls
    # when every callback sits in one mutually exclusive group (see r1_core.ros.node_main).
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()
    recorder: BagRecorder | None = None
    try:
        found = discover(node, topics, discover_s)
        if not found:
            raise ValueError(f"none of the topics {list(topics)} is advertised")
        recorder = BagRecorder(node, found, output)
        end = time.monotonic() + duration_s if duration_s > 0 else float("inf")
        while time.monotonic() < end:
            time.sleep(0.05)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        stats = recorder.close() if recorder is not None else RecorderStats()
        executor.shutdown(timeout_sec=2.0)
        spin.join(timeout=2.0)
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return stats
