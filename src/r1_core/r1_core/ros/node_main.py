"""Run an rclpy node the standard way: init, spin, clean shutdown, a clear exit on bad parameters."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
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


def make_executor(node: Node, threads: int = 4) -> Executor:
    """The executor a node asks for with its ``executor_kind`` attribute ("multi" by default).

    ``"single"``: a SingleThreadedExecutor, for nodes whose callbacks are short and sequential
    anyway (lock-stepped simulation, the bridge, the reasoning node whose model runs in its own
    worker). rclpy's MultiThreadedExecutor re-polls its futures in a loop and, measured here, cost
    a lock-stepped control node ~80 % of a core at 100 ticks/s; the EventsExecutor deadlocked when
    another thread published. ``"multi"``: a MultiThreadedExecutor, for nodes that rely on
    callback groups running in parallel (the real-time control loop beside depth processing).
    """
    if getattr(node, "executor_kind", "multi") == "single":
        return SingleThreadedExecutor()
    return MultiThreadedExecutor(num_threads=threads)


def run_node(factory: Callable[[], Node], args: Sequence[str] | None = None, threads: int = 4) -> int:
    """Create the node with ``factory`` and spin it until Ctrl-C or an external shutdown.

    Returns the process exit code: 0 on a clean stop, 2 when the node's parameters are invalid.
    The executor is shut down and its threads joined before ``rclpy`` shuts down, otherwise the
    process can abort on exit (REFERENCE.md).
    """
    use_default_dds_profile()
    rclpy.init(args=list(args) if args is not None else sys.argv)
    node: Node | None = None
    executor: Executor | None = None
    code = 0
    try:
        node = factory()
        executor = make_executor(node, threads)
        executor.add_node(node)
        executor.spin()
    except ParamError as exc:
        print(f"[error] invalid parameters: {exc}", file=sys.stderr, flush=True)
        code = 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if executor is not None:
            executor.shutdown(timeout_sec=2.0)
        if node is not None:
            close = getattr(node, "close", None)
            if callable(close):
                close()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return code


def set_realtime_priority(node: Node, priority: int) -> bool:
    """SCHED_FIFO at ``priority`` for the calling thread and the threads it starts later (0: leave as is).

    Without CAP_SYS_NICE the node logs a warning and runs on with normal scheduling; returns
    whether the priority was set.
    """
    if priority <= 0:
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (PermissionError, OSError) as exc:
        node.get_logger().warning(f"cannot set SCHED_FIFO priority {priority}: {exc}")
        return False
    node.get_logger().info(f"SCHED_FIFO priority {priority}")
    return True
