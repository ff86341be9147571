"""Record chosen topics of a live graph to a rosbag2 MCAP bag with rclpy and ``rosbags``.

``ros2 bag`` is not installable without ROS; this recorder subscribes with rclpy in raw mode (the
CDR bytes rclpy receives are the bytes rosbag2 stores) and writes with
``rosbags.rosbag2.Writer`` on its own thread, so a slow disk never blocks a callback.

Threads: subscription callbacks (any executor thread) only append to a bounded queue; the
writer thread owns the ``Writer`` and its connections; ``close()`` is called from the owner's
thread after spinning has stopped or concurrently with it (callbacks after close are dropped).
"""

from __future__ import annotations

import importlib
import queue
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosbags.rosbag2 import StoragePlugin, Writer

from nav_r1.bag.mcap_crc import seal_chunk_crcs
from nav_r1.bag.reader import norm_topic, typestore
from r1_core import topics

#: The topics of the Nav-R1 graph worth keeping for replay and evaluation (GRAPH.md names).
DEFAULT_TOPICS: tuple[str, ...] = (
    norm_topic(topics.CLOCK),
    topics.ODOM,
    topics.COLOR_IMAGE,
    topics.COLOR_INFO,
    topics.DEPTH_IMAGE,
    topics.DEPTH_INFO,
    topics.INSTRUCTION,
    topics.PLAN,
    topics.STATUS,
    topics.JOY_VEL,
    topics.KEY_VEL,
    topics.E_STOP,
    topics.CMD_VEL,
    topics.SAFETY,
    topics.CONTROL_STATS,
    topics.CONTROL_STATE,
    topics.GOAL_POSE,
    topics.REFERENCE_PATH,
)


def import_msg_type(name: str) -> Any:
    """The rclpy class of a type name such as ``sensor_msgs/msg/Image`` or ``sensor_msgs/Image``."""
    parts = name.split("/")
    if len(parts) == 2:
        parts = [parts[0], "msg", parts[1]]
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"message type '{name}' is not of the form pkg/msg/Name")
    try:
        module = importlib.import_module(f"{parts[0]}.{parts[1]}")
        return getattr(module, parts[2])
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"message type '{name}' is not installed: {exc}") from exc


def type_name(msg_type: Any) -> str:
    """The ``pkg/msg/Name`` form of an rclpy message class."""
    module = msg_type.__module__.split(".")
    return f"{module[0]}/{module[1]}/{msg_type.__name__}"


@dataclass
class RecorderStats:
    """What was written and what was dropped, per topic."""

    written: dict[str, int] = field(default_factory=dict)
    dropped_queue_full: int = 0
    dropped_no_clock: int = 0


class BagRecorder:
    """Subscribe to ``topics`` on ``node`` and write every message to an MCAP bag at ``path``.

    ``topics`` maps names to rclpy message classes (or type names); a plain list of names is
    resolved from the graph, so those topics must already have a publisher. Log times come from
    the node's clock (sim time when ``use_sim_time`` is set; messages that arrive before the first
    ``/clock`` are dropped and counted, as their time would be zero).
    """

    def __init__(
        self,
        node: Node,
        topics: Mapping[str, Any] | Sequence[str],
        path: str | Path,
        *,
        queue_size: int = 10_000,
        depth: int = 100,
    ) -> None:
        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(f"bag path '{self.path}' exists; rosbag2 writes a new directory")
        self._node = node
        resolved = dict(topics) if isinstance(topics, Mapping) else resolve_topics(node, topics)
        self._types: dict[str, Any] = {}
        for name, t in resolved.items():
            self._types[name] = import_msg_type(t) if isinstance(t, str) else t
        self.stats = RecorderStats()
        self._queue: queue.Queue[tuple[str, int, bytes] | None] = queue.Queue(maxsize=queue_size)
        self._closed = threading.Event()
        self._store = typestore()
        self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._conns: dict[str, Any] = {}
        for name, cls in self._types.items():
            self._conns[name] = self._writer.add_connection(
                _absolute(node, name), type_name(cls), typestore=self._store
            )
        self._thread = threading.Thread(target=self._write_loop, name="bag_writer", daemon=True)
        self._thread.start()
        self._subs = [
            node.create_subscription(cls, name, self._callback(name), _qos_for(node, name, depth), raw=True)
            for name, cls in self._types.items()
        ]

    @property
    def topics(self) -> dict[str, str]:
        """Recorded topics and their type names."""
        return {name: type_name(cls) for name, cls in self._types.items()}

    def _callback(self, name: str) -> Any:
        def on_msg(raw: bytes) -> None:
            if self._closed.is_set():
                return
            t_ns = self._node.get_clock().now().nanoseconds
            if t_ns <= 0:
                self.stats.dropped_no_clock += 1
                return
            try:
                self._queue.put_nowait((name, t_ns, bytes(raw)))
            except queue.Full:
                self.stats.dropped_queue_full += 1

        return on_msg

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            name, t_ns, raw = item
            self._writer.write(self._conns[name], t_ns, raw)
            self.stats.written[name] = self.stats.written.get(name, 0) + 1

    def close(self) -> RecorderStats:
        """Stop recording, flush the queue and finalise the bag (idempotent)."""
        if self._closed.is_set():
            return self.stats
        self._closed.set()
        for sub in self._subs:
            self._node.destroy_subscription(sub)
        self._queue.put(None)
        self._thread.join()
        self._writer.close()
        for mcap in self.path.glob("*.mcap"):
            seal_chunk_crcs(mcap)  # so a corrupt copy of this bag is caught on replay
        return self.stats


def resolve_topics(node: Node, names: Sequence[str]) -> dict[str, str]:
    """Type names of ``names`` as the graph advertises them; raises ValueError on unknown topics."""
    graph = {norm_topic(n): types for n, types in node.get_topic_names_and_types()}
    ns = norm_topic(node.get_namespace())
    out: dict[str, str] = {}
    missing = []
    for name in names:
        key = norm_topic(name) if name.startswith("/") or not ns else f"{ns}/{norm_topic(name)}"
        types = graph.get(key)
        if not types:
            missing.append(name)
            continue
        out[name] = types[0]
    if missing:
        raise ValueError(f"no publisher advertises topic(s) {', '.join(missing)}; give their types explicitly")
    return out


def _absolute(node: Node, name: str) -> str:
    """The topic name as rosbag2 stores it (absolute, resolved in the node's namespace)."""
    if name.startswith("/"):
        return name
    ns = node.get_namespace().rstrip("/")
    return f"{ns}/{name}"


#: Topics our graph publishes best-effort (sensor QoS); others are reliable (GRAPH.md, qos.py).
_SENSOR_PREFIXES = ("camera/", "stereo/")


def _qos_for(node: Node, name: str, depth: int) -> QoSProfile:
    """Match the publishers like rosbag2 does: reliable/latched only when every publisher is.

    With no publisher yet (the recorder started before the graph), our graph's convention decides:
    best-effort for sensor streams, reliable for the rest, so a slow moment loses no plan or status.
    """
    infos = node.get_publishers_info_by_topic(_absolute(node, name))
    if infos:
        reliable = all(i.qos_profile.reliability == ReliabilityPolicy.RELIABLE for i in infos)
    else:
        reliable = not norm_topic(name).startswith(_SENSOR_PREFIXES)
    latched = bool(infos) and all(
        i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for i in infos
    )
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )
