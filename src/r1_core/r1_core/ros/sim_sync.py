"""Lock-step between the simulator and the nodes, so a seeded simulated run is exactly reproducible.

DDS gives no ordering across topics or processes, so a free-running simulation changes with the
machine's load. In sync mode the simulator bridge is the master of time:

1. it publishes the sensors of tick *k* (stamped t_k), then ``sim/tick`` = JSON ``{"seq", "t",
   "expect": {topic: stamp}}`` naming what was published for this tick, including what the nodes
   reported publishing while handling tick *k-1* (a plan, a command);
2. each participant waits until it holds every expected message on the topics it ``watch``es
   (its latest stamp on that topic >= the expected stamp), handles the tick, and answers
   ``sim/ack`` = JSON ``{"node", "seq", "published": {topic: stamp}}``;
3. the master waits for every participant's ack (bounded by a wall-clock timeout, which it counts
   and reports) and then steps the physics.

Before the first tick the master says hello (``sim/tick`` with ``"hello": true``) until every
participant answers ready: it sees a publisher on every topic it watches and a subscriber on every
topic it names in ``publishes``. DDS drops what a volatile writer sends before the reader is
discovered, so without this the first plan could be lost between two nodes that both already
answer ticks, and the run would stall on a deadline (seen once on a loaded CI machine).

Nothing here runs in real-robot mode: nodes fall back to their timers. Threading: all state is
guarded by one lock; ``on_tick`` runs in the executor thread that completed the tick's inputs.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from rclpy.node import Node
from std_msgs.msg import String

from r1_core import topics
from r1_core.ros.qos import SYNC_QOS

TICK_TOPIC = topics.SIM_TICK
ACK_TOPIC = topics.SIM_ACK
_EPS = 1e-9

#: ``on_tick(seq, t)`` returns what it published ({topic: stamp}) to ack at once, or None when it
#: will call :meth:`SyncParticipant.ack` later (for example after inference in a worker thread).
TickHandler = Callable[[int, float], Mapping[str, float] | None]


class SyncParticipant:
    """A node's side of the lock-step: call :meth:`received` from input callbacks."""

    def __init__(self, node: Node, name: str, watch: Iterable[str], on_tick: TickHandler,
                 trigger: str | None = None, publishes: Iterable[str] = ()) -> None:
        """``trigger``: take part only in ticks whose ``expect`` names this topic (e.g. the camera).

        ``publishes``: topics this node sends to other lock-step nodes; it is ready only once each has
        a subscriber, as it is only once each watched topic has a publisher.
        """
        self._node = node
        self._trigger = trigger
        self._name = name
        self._watch = set(watch)
        self._publishes = tuple(publishes)
        self._on_tick = on_tick
        self._lock = threading.Lock()
        self._latest: dict[str, float] = {}
        self._pending: tuple[int, float, dict[str, float]] | None = None
        self._handled_seq = -1
        #: The watched part of the tick being handled: what ``on_tick`` may consume ({topic: stamp}).
        self.expect: dict[str, float] = {}
        self._pub = node.create_publisher(String, ACK_TOPIC, SYNC_QOS)
        self._sub = node.create_subscription(String, TICK_TOPIC, self._tick_cb, SYNC_QOS)

    def received(self, topic: str, stamp: float) -> None:
        """Record that a message with ``stamp`` arrived on ``topic`` (call from the input callback)."""
        with self._lock:
            if stamp > self._latest.get(topic, -1.0):
                self._latest[topic] = stamp
        self._maybe_run()

    def ack(self, seq: int, published: Mapping[str, float] | None = None) -> None:
        """Acknowledge tick ``seq``, listing what this node published while handling it."""
        msg = String()
        msg.data = json.dumps({"node": self._name, "seq": seq, "published": dict(published or {})})
        self._pub.publish(msg)

    def ready(self) -> bool:
        """Every watched topic has a publisher and every ``publishes`` topic a subscriber (discovery)."""
        n = self._node
        return (all(n.count_publishers(topic) > 0 for topic in sorted(self._watch))
                and all(n.count_subscribers(topic) > 0 for topic in self._publishes))

    def _tick_cb(self, msg: String) -> None:
        try:
            data = json.loads(msg.data)
            if data.get("hello"):
                reply = String()
                reply.data = json.dumps({"node": self._name, "seq": -1, "ready": self.ready()})
                self._pub.publish(reply)
                return
            seq, t = int(data["seq"]), float(data["t"])
            expect = {str(k): float(v) for k, v in dict(data.get("expect", {})).items()}
        except (ValueError, KeyError, TypeError) as exc:
            self._node.get_logger().error(f"malformed {TICK_TOPIC} message ignored: {exc}")
            return
        if self._trigger is not None and self._trigger not in expect:
            return
        with self._lock:
            if seq <= self._handled_seq:
                return
            self._pending = (seq, t, {k: v for k, v in expect.items() if k in self._watch})
        self._maybe_run()

    def _maybe_run(self) -> None:
        with self._lock:
            if self._pending is None:
                return
            seq, t, expect = self._pending
            if any(self._latest.get(k, -1.0) + _EPS < v for k, v in expect.items()):
                return
            self._pending = None
            self._handled_seq = seq
            self.expect = expect
        published = self._on_tick(seq, t)
        if published is not None:
            self.ack(seq, published)


@dataclass
class TickResult:
    """What the master learned from one tick: what was published, who missed the deadline."""

    published: dict[str, float] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


class SyncMaster:
    """The simulator's side: publish a tick, then wait for every participant's ack."""

    def __init__(self, node: Node, participants: Iterable[str], timeout_s: float) -> None:
        self._node = node
        self._participants = set(participants)
        self._timeout_s = timeout_s
        self._cv = threading.Condition()
        self._acks: dict[int, dict[str, dict[str, float]]] = {}
        self._ready: set[str] = set()
        self._latest: dict[str, float] = {}
        self.deadline_misses = 0
        self._pub = node.create_publisher(String, TICK_TOPIC, SYNC_QOS)
        self._sub = node.create_subscription(String, ACK_TOPIC, self._ack_cb, SYNC_QOS)

    @property
    def participants(self) -> frozenset[str]:
        """The node names whose acks each tick waits for."""
        return frozenset(self._participants)

    def received(self, topic: str, stamp: float) -> None:
        """Record a message the master itself consumes (e.g. ``cmd_vel``)."""
        with self._cv:
            if stamp > self._latest.get(topic, -1.0):
                self._latest[topic] = stamp
            self._cv.notify_all()

    def wait_for_participants(self, timeout_s: float, settle_s: float = 0.3) -> bool:
        """Wait until every participant answers a hello as ready (see the module doc), up to ``timeout_s``.

        ``settle_s`` more is waited after that: discovery is seen by each side on its own, and this
        leaves the writer's side of each match the time to catch up with the reader's.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._pub.get_subscription_count() >= len(self._participants):
                break
            time.sleep(0.05)
        else:
            return False
        hello = String()
        hello.data = json.dumps({"seq": -1, "t": 0.0, "hello": True, "expect": {}})
        with self._cv:
            self._ready.clear()
        while time.monotonic() < deadline:
            self._pub.publish(hello)
            with self._cv:
                self._cv.wait_for(lambda: self._ready >= self._participants,
                                  min(0.2, max(deadline - time.monotonic(), 0.0)))
                if self._ready >= self._participants:
                    break
        else:
            with self._cv:
                missing = sorted(self._participants - self._ready)
            self._node.get_logger().error(f"lock-step participants not ready (discovery): {missing}")
            return False
        time.sleep(settle_s)
        return True

    def tick(self, seq: int, t: float, expect: Mapping[str, float], consumes: Iterable[str] = (),
             participants: Iterable[str] | None = None) -> TickResult:
        """Publish tick ``seq`` and block until all acks (and the consumed topics they name) arrive.

        ``participants`` narrows whose acks this tick waits for (those with a ``trigger`` only
        answer ticks carrying it). Must be called from a thread other than the executor thread
        delivering the acks.
        """
        expected = self._participants if participants is None else set(participants)
        msg = String()
        msg.data = json.dumps({"seq": seq, "t": t, "expect": dict(expect)})
        self._pub.publish(msg)
        consumed = set(consumes)
        deadline = time.monotonic() + self._timeout_s
        result = TickResult()
        with self._cv:
            while True:
                acks = self._acks.get(seq, {})
                waiting = expected - set(acks)
                published: dict[str, float] = {}
                for pub in acks.values():
                    published.update(pub)
                unseen = [k for k, v in published.items() if k in consumed and self._latest.get(k, -1.0) + _EPS < v]
                if not waiting and not unseen:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0.0:
                    result.missing = sorted(waiting) + unseen
                    self.deadline_misses += 1
                    self._node.get_logger().warning(
                        f"sim tick {seq} (t={t:.3f}s): no answer from {result.missing} "
                        f"within {self._timeout_s}s; going on"
                    )
                    break
                self._cv.wait(remaining)
            self._acks.pop(seq, None)
        result.published = published
        return result

    def _ack_cb(self, msg: String) -> None:
        try:
            data = json.loads(msg.data)
            node, seq = str(data["node"]), int(data["seq"])
            published = {str(k): float(v) for k, v in dict(data.get("published", {})).items()}
        except (ValueError, KeyError, TypeError) as exc:
            self._node.get_logger().error(f"malformed {ACK_TOPIC} message ignored: {exc}")
            return
        if seq < 0:  # an answer to a hello
            with self._cv:
                if data.get("ready") is True:
                    self._ready.add(node)
                self._cv.notify_all()
            return
        with self._cv:
            self._acks.setdefault(seq, {})[node] = published
            self._cv.notify_all()
