"""A stop asked for while a node process is still starting (importing torch, MuJoCo, rclpy).

Python's default SIGINT handler raises ``KeyboardInterrupt`` wherever the interpreter is, so a
Ctrl-C (or a graph shutting down because another node failed) that lands during a node's imports
killed it with a traceback and exit -2. :func:`install` runs before those imports (the ROS-less
runner's command line calls it first) and only records the request;
:func:`r1_core.ros.node_main.run_node` then ends the node at once with exit 0. Standard library
only, so installing it costs nothing.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

_requested = threading.Event()


def _record(signum: int, frame: FrameType | None) -> None:
    _requested.set()


def install() -> None:
    """Record SIGINT/SIGTERM instead of dying (main thread only; run_node takes over later)."""
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _record)


def requested() -> bool:
    """Whether a stop was asked for before the node's own handlers were installed."""
    return _requested.is_set()


__all__ = ["install", "requested"]
