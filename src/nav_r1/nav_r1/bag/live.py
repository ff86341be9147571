"""Live replay: play a bag onto the real graph (with ``/clock``) and capture what the stack commands.

The nodes under test run in their own processes with ``use_sim_time:=true``; this process plays
the bag and listens to their outputs (``cmd_vel``, ``nav_r1/safety``, ``nav_r1/control_stats``).

Threads: the caller's thread runs the player; one executor thread spins the capture node, whose
callbacks append to lists guarded by one lock; the trace is assembled after the executor stops.
"""

from __future__ import annotations

import bisect
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import rclpy
from geometry_msgs.msg import Twist as TwistMsg
from geometry_msgs.msg import TwistStamped
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import String

from nav_r1.bag.evaluate import RunTrace
from nav_r1.bag.player import BagPlayer, PlayOptions, PlayStats
from nav_r1.bag.reader import BagSource
from nav_r1.bag.traces import TopicNames, stamp_s, twist_of
from r1_core import topics


@dataclass(frozen=True)
class LiveOptions:
    """Live replay settings beyond the player's."""

    play: PlayOptions = PlayOptions()
    # cmd_vel is geometry_msgs/TwistStamped (Kilted default) unless this is False.
    cmd_stamped: bool = True
    # How long to wait for the nodes under test to subscribe before playing [s, wall].
    wait_s: float = 15.0
    # Bag topics whose subscribers must exist before playback starts.
    wait_for: tuple[str, ...] = (topics.ODOM, topics.DEPTH_IMAGE)
    # Wall time to keep listening after the last message, so the last commands arrive [s].
    drain_s: float = 0.5


class _Capture:
    """Collects the stack's outputs, each with the bag time at arrival."""

    def __init__(self, node: Node, names: TopicNames, player: BagPlayer, stamped: bool) -> None:
        self._player = player
        self._t0 = player.source.start_ns
        self._lock = threading.Lock()
        self.cmds: list[tuple[float, Any, float]] = []  # (header stamp [s] or 0, msg, arrival bag time)
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.stats: list[dict[str, Any]] = []
        self.states: list[dict[str, Any]] = []
        self.bad: list[str] = []
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=200, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)
        node.create_subscription(TwistStamped if stamped else TwistMsg, names.cmd_vel, self._on_cmd, qos)
        node.create_subscription(String, names.safety, self._on_safety, qos)
        node.create_subscription(String, names.control_stats, self._on_stats, qos)
        node.create_subscription(String, names.control_state, self._on_state, qos)

    def _arrival(self) -> float:
        return (self._player.bag_now_ns() - self._t0) * 1e-9

    def _on_cmd(self, msg: Any) -> None:
        stamp = stamp_s(msg.header.stamp) if hasattr(msg, "header") else 0.0
        with self._lock:
            self.cmds.append((stamp, msg, self._arrival()))

    def _json(self, msg: String) -> dict[str, Any] | None:
        try:
            obj = json.loads(msg.data)
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            with self._lock:
                self.bad.append(msg.data[:200])
            return None
        return obj

    def _on_safety(self, msg: String) -> None:
        obj = self._json(msg)
        if obj is not None:
            with self._lock:
                self.events.append((self._arrival(), obj))

    def _on_stats(self, msg: String) -> None:
        obj = self._json(msg)
        if obj is not None:
            with self._lock:
                self.stats.append(obj)

    def _on_state(self, msg: String) -> None:
        obj = self._json(msg)
        if obj is not None:
            with self._lock:
                self.states.append(obj)

    def trace(self) -> RunTrace:
        """The captured run on bag time: command time is its sim-time stamp, else its arrival."""
        t0 = self._t0 * 1e-9
        run = RunTrace(mode="live")
        with self._lock:
            rows = sorted((((stamp - t0 if stamp > 0.0 else arrival), twist_of(msg), arrival)
                           for stamp, msg, arrival in self.cmds), key=lambda r: r[0])
            # The winning input of each command, from the node's state changes (stamped in sim time).
            states = sorted(((float(st["stamp"]) - t0, str(st.get("source", "?"))) for st in self.states
                             if isinstance(st.get("stamp"), (int, float))), key=lambda s: s[0])
            times = [s[0] for s in states]
            run.commands = []
            for t, tw, _ in rows:
                i = bisect.bisect_right(times, t + 1e-9) - 1
                run.commands.append((t, tw, states[i][1] if i >= 0 else "unknown"))
            run.arrivals = [a for _, _, a in rows]
            run.events = list(self.events)
            run.loop = {"control_stats_messages": len(self.stats), "last_control_stats": self.stats[-1]
                        if self.stats else None, "malformed_json": len(self.bad)}
        return run


def run_live(source: BagSource, names: TopicNames, options: LiveOptions,
             context: Context | None = None) -> tuple[RunTrace, PlayStats]:
    """Play ``source`` onto the live graph and return what the stack under test commanded."""
    ctx = context or Context()
    own = context is None
    if own:
        rclpy.init(context=ctx)
    node = Node("nav_r1_bag_player", context=ctx)
    executor = SingleThreadedExecutor(context=ctx)
    spin = threading.Thread(target=executor.spin, name="bag_capture", daemon=True)
    try:
        player = BagPlayer(node, source, options.play)
        capture = _Capture(node, names, player, options.cmd_stamped)
        executor.add_node(node)
        spin.start()
        player.wait_for_subscribers([t for t in options.wait_for if t in player.topics], options.wait_s)
        stats = player.play()
        time.sleep(options.drain_s)
        return capture.trace(), stats
    finally:
        executor.shutdown(timeout_sec=2.0)
        if spin.is_alive():
            spin.join(timeout=2.0)
        node.destroy_node()
        if own and ctx.ok():
            rclpy.shutdown(context=ctx)
