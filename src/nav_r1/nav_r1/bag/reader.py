"""Open a rosbag2 bag (MCAP or sqlite3, ours or ``ros2 bag record``'s) and read it in log-time order.

Every failure of the underlying reader (missing files, bad metadata, a truncated or corrupt
storage file, an unknown message type) becomes a :class:`BagError` that names the bag and what is
wrong, so the CLI can say so and leave no report behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore
from rosbags.typesys.store import Typestore


class BagError(RuntimeError):
    """A bag cannot be read, is empty, or lacks a topic that was asked for."""


def typestore() -> Typestore:
    """The message definitions of ROS 2 Kilted, used to read and write our bags."""
    return get_typestore(Stores.ROS2_KILTED)


def norm_topic(name: str) -> str:
    """A topic name without its leading slash: bags hold ``/odom``, our graph says ``odom``."""
    return name.lstrip("/")


@dataclass(frozen=True)
class BagMessage:
    """One recorded message: topic (no leading slash), type name, log time [ns] and CDR bytes."""

    topic: str
    msgtype: str
    t_ns: int
    raw: bytes


class BagSource:
    """An opened bag: topics, time span and its messages in log-time order.

    Use as a context manager; all reader errors are re-raised as :class:`BagError`.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise BagError(f"bag '{self.path}' does not exist")
        if self.path.is_dir() and not (self.path / "metadata.yaml").exists():
            found = sorted(p.name for p in self.path.glob("*.mcap")) + sorted(p.name for p in self.path.glob("*.db3"))
            hint = (f"; it holds {', '.join(found)} but rosbag2 writes metadata.yaml when a recording ends: "
                    "was the recording interrupted?") if found else ""
            raise BagError(f"bag '{self.path}' cannot be opened: no metadata.yaml{hint}")
        self._store = typestore()
        try:
            self._reader = AnyReader([self.path], default_typestore=self._store)
            self._reader.open()
        except Exception as exc:  # rosbags raises several unrelated types; all mean "unreadable"
            raise BagError(f"bag '{self.path}' cannot be opened: {exc}") from exc
        self.topics: dict[str, str] = {}
        self._conns: dict[str, list[Any]] = {}
        for conn in self._reader.connections:
            name = norm_topic(conn.topic)
            prev = self.topics.get(name)
            if prev is not None and prev != conn.msgtype:
                raise BagError(f"bag '{self.path}': topic '{name}' has two types, {prev} and {conn.msgtype}")
            self.topics[name] = conn.msgtype
            self._conns.setdefault(name, []).append(conn)
        if self._reader.message_count == 0 or not self.topics:
            self.close()
            raise BagError(f"bag '{self.path}' is empty: it holds no messages")

    def __enter__(self) -> BagSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying reader (idempotent)."""
        # Closing a reader whose storage failed must not mask the first error.
        with contextlib.suppress(Exception):
            self._reader.close()

    @property
    def start_ns(self) -> int:
        """Log time of the first message [ns]."""
        return int(self._reader.start_time)

    @property
    def end_ns(self) -> int:
        """Log time of the last message [ns]."""
        return int(self._reader.end_time)

    @property
    def duration_s(self) -> float:
        """Span from the first to the last message [s]."""
        return (self.end_ns - self.start_ns) * 1e-9

    @property
    def message_count(self) -> int:
        """Messages in the bag as its index states them."""
        return int(self._reader.message_count)

    def count(self, topic: str) -> int:
        """Messages on ``topic`` as the bag's index states them (0 when absent)."""
        return sum(int(c.msgcount) for c in self._conns.get(norm_topic(topic), []))

    def require(self, topics: Iterable[str], why: str = "") -> None:
        """Raise BagError naming every topic of ``topics`` the bag lacks."""
        missing = [t for t in topics if norm_topic(t) not in self.topics]
        if missing:
            have = ", ".join(sorted(self.topics)) or "none"
            reason = f" ({why})" if why else ""
            raise BagError(f"bag '{self.path}' lacks topic(s) {', '.join(missing)}{reason}; it has: {have}")

    def messages(self, topics: Iterable[str] | None = None) -> Iterator[BagMessage]:
        """Messages on ``topics`` (all when None) in log-time order; a read failure is a BagError."""
        if topics is None:
            conns = [c for cs in self._conns.values() for c in cs]
        else:
            conns = [c for t in topics for c in self._conns.get(norm_topic(t), [])]
        if not conns:
            return
        it = self._reader.messages(connections=conns)
        while True:
            try:
                conn, t_ns, raw = next(it)
            except StopIteration:
                return
            except Exception as exc:  # truncated chunk, bad compression, CRC mismatch ...
                raise BagError(f"bag '{self.path}' is corrupt or truncated: {exc}") from exc
            yield BagMessage(norm_topic(conn.topic), conn.msgtype, int(t_ns), bytes(raw))

    def deserialize(self, msg: BagMessage) -> Any:
        """The message as a rosbags object (same field names as the rclpy message)."""
        try:
            return self._reader.deserialize(msg.raw, msg.msgtype)
        except Exception as exc:
            raise BagError(
                f"bag '{self.path}': a {msg.msgtype} message on '{msg.topic}' at t={msg.t_ns} ns "
                f"cannot be decoded: {exc}"
            ) from exc
