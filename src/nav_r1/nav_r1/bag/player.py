"""Publish a bag onto live topics with its original timing at a chosen rate, and publish ``/clock``.

The nodes under test run with ``use_sim_time:=true`` and see the bag's log time on ``/clock``, so
the stamps in the replayed headers and their clocks agree. Messages are published as the CDR bytes
the bag holds (rclpy ``publish_raw``), which works for any installed message type.

Threads: :meth:`BagPlayer.play` runs on the caller's thread and owns the publishers; the node can
be spun by an executor on another thread meanwhile (the player itself needs no spinning).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from tqdm import tqdm

from nav_r1.bag.reader import BagError, BagMessage, BagSource, norm_topic
from nav_r1.bag.record import import_msg_type
from r1_core import topics

#: Topics that the stack under test publishes itself: replaying them would fight its output.
STACK_OUTPUTS: tuple[str, ...] = (topics.CMD_VEL, topics.SAFETY, topics.CONTROL_STATS, topics.CONTROL_STATE)


@dataclass(frozen=True)
class PlayOptions:
    """How to replay: rate, which topics, renames, and the ``/clock`` rate."""

    # Playback speed: 1 is the original timing, 5 five times faster.
    rate: float = 1.0
    # Topics to publish (None: every topic of the bag not excluded).
    topics: tuple[str, ...] | None = None
    # Topics never published (the recorded clock is always replaced by ours).
    exclude: tuple[str, ...] = STACK_OUTPUTS
    # Bag topic -> live topic.
    remap: Mapping[str, str] = field(default_factory=dict)
    # /clock publications per wall second between messages.
    clock_hz: float = 200.0
    # Delay between the first /clock and the first message, so sim-time nodes start their timers.
    preroll_s: float = 0.3
    # Show a progress bar over the bag's messages.
    progress: bool = False

    def __post_init__(self) -> None:
        if not 0.01 <= self.rate <= 1000.0:
            raise ValueError(f"rate must be in [0.01, 1000], got {self.rate}")
        if not 1.0 <= self.clock_hz <= 10_000.0:
            raise ValueError(f"clock_hz must be in [1, 10000], got {self.clock_hz}")
        if self.preroll_s < 0.0:
            raise ValueError(f"preroll_s must be non-negative, got {self.preroll_s}")

    def selected(self, bag_topics: Sequence[str]) -> list[str]:
        """The bag topics this replay publishes; raises BagError if a chosen topic is absent."""
        excluded = {norm_topic(t) for t in self.exclude} | {norm_topic(topics.CLOCK)}
        if self.topics is None:
            return [t for t in bag_topics if t not in excluded]
        chosen = [norm_topic(t) for t in self.topics]
        missing = [t for t in chosen if t not in bag_topics]
        if missing:
            raise BagError(f"topic(s) {', '.join(missing)} asked for replay are not in the bag")
        return [t for t in chosen if t not in excluded]


@dataclass
class PlayStats:
    """What a replay published and how far behind schedule it fell."""

    published: dict[str, int] = field(default_factory=dict)
    clock_msgs: int = 0
    max_lag_s: float = 0.0
    wall_s: float = 0.0
    stopped_early: bool = False


class BagPlayer:
    """Replays one bag through publishers on ``node``; call :meth:`play` once."""

    def __init__(self, node: Node, source: BagSource, options: PlayOptions | None = None) -> None:
        self.node = node
        self.source = source
        self.options = options or PlayOptions()
        self.topics = self.options.selected(list(source.topics))
        if not self.topics:
            raise BagError(f"bag '{source.path}': nothing left to replay after excluding {self.options.exclude}")
        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=100,
            reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE,
        )
        self._pubs: dict[str, Publisher] = {}
        for topic in self.topics:
            try:
                cls = import_msg_type(source.topics[topic])
            except ValueError as exc:
                raise BagError(f"cannot replay '{topic}': {exc}") from exc
            self._pubs[topic] = node.create_publisher(cls, self.live_name(topic), qos)
        self._clock_pub = node.create_publisher(Clock, topics.CLOCK, qos)
        self._t0_ns = source.start_ns
        self._wall0: float | None = None
        self._lock = threading.Lock()
        self.stats = PlayStats()

    def live_name(self, topic: str) -> str:
        """The live topic a bag topic is published on, after remapping."""
        remap = {norm_topic(k): v for k, v in self.options.remap.items()}
        return remap.get(topic, topic)

    def wait_for_subscribers(self, topics: Sequence[str], timeout_s: float) -> None:
        """Block until each of ``topics`` (bag names) has a subscriber; raises TimeoutError."""
        deadline = time.monotonic() + timeout_s
        for topic in topics:
            pub = self._pubs.get(norm_topic(topic))
            if pub is None:
                raise BagError(f"'{topic}' is not among the replayed topics {self.topics}")
            while pub.get_subscription_count() == 0:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no subscriber appeared on '{self.live_name(norm_topic(topic))}'")
                time.sleep(0.02)

    def bag_now_ns(self) -> int:
        """The bag time that playback has reached (the last ``/clock`` value's source)."""
        with self._lock:
            if self._wall0 is None:
                return self._t0_ns
            return self._t0_ns + int((time.monotonic() - self._wall0) * self.options.rate * 1e9)

    def _publish_clock(self, t_ns: int) -> None:
        msg = Clock()
        msg.clock.sec, msg.clock.nanosec = divmod(t_ns, 1_000_000_000)
        self._clock_pub.publish(msg)

    def _sleep_until(self, wall: float, stop: threading.Event) -> None:
        """Sleep until ``wall``, publishing /clock at ``clock_hz`` meanwhile."""
        period = 1.0 / self.options.clock_hz
        while True:
            now = time.monotonic()
            if now >= wall or stop.is_set():
                return
            stop.wait(min(period, wall - now))
            if time.monotonic() < wall:
                self._publish_clock(self.bag_now_ns())
                self.stats.clock_msgs += 1

    def play(self, stop: threading.Event | None = None) -> PlayStats:
        """Publish every selected message at its (scaled) time; returns when the bag ends or ``stop``."""
        stop = stop or threading.Event()
        self.stats = PlayStats(published=dict.fromkeys(self.topics, 0))
        rate = self.options.rate
        self._publish_clock(self._t0_ns)
        start = time.monotonic()
        time.sleep(self.options.preroll_s)  # let sim-time nodes see the first /clock
        with self._lock:
            self._wall0 = time.monotonic()
        last_clock = self._t0_ns
        total = sum(self.source.count(t) for t in self.topics)
        bar = tqdm(total=total, disable=not self.options.progress, unit="msg", desc=f"replay x{rate:g}")
        for msg in self._messages():
            due = self._wall0 + (msg.t_ns - self._t0_ns) * 1e-9 / rate
            self._sleep_until(due, stop)
            if stop.is_set():
                self.stats.stopped_early = True
                break
            self.stats.max_lag_s = max(self.stats.max_lag_s, time.monotonic() - due)
            if msg.t_ns > last_clock:
                # Clock first, so a node's "now" is not older than the stamps it is about to receive.
                self._publish_clock(msg.t_ns)
                self.stats.clock_msgs += 1
                last_clock = msg.t_ns
            self._pubs[msg.topic].publish(msg.raw)
            self.stats.published[msg.topic] += 1
            bar.update()
        bar.close()
        self.stats.wall_s = time.monotonic() - start
        return self.stats

    def _messages(self) -> Iterator[BagMessage]:
        return self.source.messages(self.topics)


def parse_remaps(items: Sequence[str]) -> dict[str, str]:
    """``old:=new`` pairs (as ``ros2 bag play --remap`` takes them) as a dict."""
    out: dict[str, str] = {}
    for item in items:
        old, sep, new = item.partition(":=")
        if not sep or not old or not new:
            raise ValueError(f"remap '{item}' is not of the form old:=new")
        out[norm_topic(old)] = new
    return out
