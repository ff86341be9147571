"""Run an rclpy node the standard way: init, spin, clean shutdown, a clear exit on bad parameters."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node

from r1_core.params import ParamError

FASTDDS_PROFILE = Path(__file__).resolve().parents[1] / "fastdds_profile.xml"


def use_default_dds_profile() -> None:
    """Point Fast DDS at our profile (16 MiB shared-memory segments) unless the user chose one.

    Must run before ``rclpy.init``; the variables are read when the participant is created.
    """
    if "FASTDDS_DEFAULT_PROFILES_FILE" not in os.environ and "FASTRTPS_DEFAULT_PROFILES_FILE" not in os.environ:
        os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = str(FASTDDS_PROFILE)
        os.environ.setdefault("RMW_FASTRTPS_USE_QOS_FROM_XML", "0")


def run_node(factory: Callable[[], Node], args: Sequence[str] | None = None, threads: int = 4) -> int:
    """Create the node with ``factory`` and spin it until Ctrl-C or an external shutdown.

    Returns the process exit code: 0 on a clean stop, 2 when the node's parameters are invalid.
    The executor is shut down and its threads joined before ``rclpy`` shuts down, otherwise the
    process can abort on exit (REFERENCE.md).
    """
    use_default_dds_profile()
    rclpy.init(args=list(args) if args is not None else sys.argv)
    node: Node | None = None
    executor = MultiThreadedExecutor(num_threads=threads)
    code = 0
    try:
        node = factory()
        executor.add_node(node)
        executor.spin()
    except ParamError as exc:
        print(f"[error] invalid parameters: {exc}", file=sys.stderr, flush=True)
        code = 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown(timeout_sec=2.0)
        if node is not None:
            close = getattr(node, "close", None)
            if callable(close):
                close()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return code
