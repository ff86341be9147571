"""Run an rclpy node the standard way: init, spin, clean shutdown, a clear exit on bad parameters."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from r1_core import early_signals
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


SIGNAL_POLL_S = 0.1
"""Longest wait in the spin loop: a signal is acted on within this time."""


class _StopOnSignal:
    """SIGINT/SIGTERM ask once for a stop; every later one (a second Ctrl-C during cleanup) is ignored.

    Python runs signal handlers in the main thread between bytecodes, so the handler only sets
    ``stop`` while the spin loop runs (no exception in the middle of a callback); in the phases
    that block the main thread (creating the node, a node's own main loop) the first signal also
    raises ``KeyboardInterrupt``, as Python's default handler would.
    """

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.interrupt = True

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.stop.is_set():
            return
        self.stop.set()
        # Ignored at the OS level from now on: Python puts back the default handlers (death by
        # signal, exit -2) while the interpreter finalizes, which is when a second Ctrl-C often lands.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        if self.interrupt:
            raise KeyboardInterrupt

    def install(self) -> None:
        """Take over SIGINT and SIGTERM (main thread only; elsewhere the caller's handlers stay)."""
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, self.handle)


def _spin_quietly(executor: Executor) -> None:
    with contextlib.suppress(ExternalShutdownException):
        executor.spin()


def _shutdown(node: Node | None, executor: Executor | None) -> bool:
    """Stop the executor, cancel timers, ``close()`` and destroy the node; False if ``close()`` failed."""
    if executor is not None:
        executor.shutdown(timeout_sec=2.0)
    if node is None:
        return True
    ok = True
    for timer in list(node.timers):
        timer.cancel()
    close = getattr(node, "close", None)
    if callable(close):
        try:
            close()
        except Exception as exc:  # one line, not a traceback: the node is going anyway
            print(f"[error] {node.get_name()}: shutdown failed: {type(exc).__name__}: {exc}", file=sys.stderr,
                  flush=True)
            ok = False
    node.destroy_node()
    return ok


def _run(node: Node, executor: Executor, signals: _StopOnSignal, main_loop: Callable[[Any], None] | None) -> None:
    """Spin until a stop: ``main_loop`` in this thread with the executor in another, or the executor here."""
    if main_loop is not None:
        threading.Thread(target=_spin_quietly, args=(executor,), name="executor", daemon=True).start()
        main_loop(node)
        return
    signals.interrupt = False  # from here a signal only ends this loop
    while not signals.stop.is_set() and rclpy.ok():
        executor.spin_once(timeout_sec=SIGNAL_POLL_S)


def run_node(factory: Callable[[], Node], args: Sequence[str] | None = None, threads: int = 4,
             main_loop: Callable[[Any], None] | None = None,
             fatal: tuple[type[Exception], ...] = ()) -> int:
    """Create the node with ``factory`` and spin it until SIGINT, SIGTERM or an external shutdown.

    Returns the process exit code: 0 on a stop by signal or external shutdown, 2 when the node's
    parameters are invalid, 1 when its ``close()`` failed. The standard rclpy form (ros2/demos:
    ``with rclpy.init()``, catching ``KeyboardInterrupt``/``ExternalShutdownException``) with
    rclpy's own signal handlers off: they shut the context down from a signal thread while a timer
    may be publishing ("publisher's context is invalid"), and a second SIGINT (``ros2 launch``
    without a terminal forwards the group's Ctrl-C, so each node gets two) raised
    ``KeyboardInterrupt`` inside ``destroy_node()``. Here the first SIGINT/SIGTERM ends the spin
    loop, later ones are ignored, and shutdown runs in this order while the context is valid:

    1. the executor stops and its threads are joined (no callback runs after this),
    2. every timer of the node is cancelled,
    3. the node's ``close()`` runs, if it has one: stop workers, publish final commands (the control
       node's last ``cmd_vel`` is zero),
    4. the node is destroyed, then the context shut down by ``rclpy.init``'s context manager.

    ``main_loop``, when given, runs in the main thread while the executor spins in another (the
    simulator bridge's episode loop); the first signal raises ``KeyboardInterrupt`` in it. An
    exception of a ``fatal`` type from the node or its loop is printed on one line, exit code 1.
    """
    use_default_dds_profile()
    signals = _StopOnSignal()
    code = 0
    try:
        with rclpy.init(args=list(args) if args is not None else sys.argv,
                        signal_handler_options=SignalHandlerOptions.NO):
            signals.install()
            if early_signals.requested():  # asked to stop while the process was still importing
                return 0
            node: Node | None = None
            executor: Executor | None = None
            try:
                node = factory()
                executor = make_executor(node, threads)
                executor.add_node(node)
                _run(node, executor, signals, main_loop)
            except ParamError as exc:
                print(f"[error] invalid parameters: {exc}", file=sys.stderr, flush=True)
                code = 2
            except (KeyboardInterrupt, ExternalShutdownException):
                pass
            except fatal as exc:
                name = node.get_name() if node is not None else "node"
                print(f"[error] {name}: {exc}", file=sys.stderr, flush=True)
                code = 1
            finally:
                signals.stop.set()  # from here every signal is ignored
                if not _shutdown(node, executor) and code == 0:
                    code = 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass  # a signal while rclpy.init was still running
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
