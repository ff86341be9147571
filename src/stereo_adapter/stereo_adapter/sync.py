"""Approximate-time pairing of the four stereo inputs (no message_filters wheel exists here).

Each input keeps a short queue of (stamp, item). A set is emitted when the left image, the right
image and both camera_infos all have an entry within ``slop_s`` of one pivot stamp; everything
older than the emitted set is dropped, so the synchroniser never queues work behind the newest
frame. Single-threaded by design: the node calls it from one callback group.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class ApproxTimeSync(Generic[T]):
    """Match one item per named input whose stamps all lie within ``slop_s`` of each other."""

    def __init__(self, names: Sequence[str], slop_s: float = 0.02, queue_size: int = 5) -> None:
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"input names must be distinct and non-empty, got {list(names)}")
        if slop_s < 0:
            raise ValueError(f"slop must be non-negative, got {slop_s}")
        self.names = tuple(names)
        self.slop_s = slop_s
        self._queues: dict[str, deque[tuple[float, T]]] = {n: deque(maxlen=queue_size) for n in names}
        self.dropped = 0

    def push(self, name: str, stamp_s: float, item: T) -> dict[str, T] | None:
        """Add one item; return a matched set ``{name: item}`` when one is complete."""
        if name not in self._queues:
            raise KeyError(f"unknown input '{name}'; expected one of {self.names}")
        queue = self._queues[name]
        if len(queue) == queue.maxlen:
            self.dropped += 1
        queue.append((stamp_s, item))
        return self._match(stamp_s)

    def _match(self, pivot: float) -> dict[str, T] | None:
        chosen: dict[str, tuple[float, T]] = {}
        for name, queue in self._queues.items():
            best = min(queue, key=lambda e: abs(e[0] - pivot), default=None)
            if best is None or abs(best[0] - pivot) > self.slop_s:
                return None
            chosen[name] = best
        stamps = [s for s, _ in chosen.values()]
        if max(stamps) - min(stamps) > self.slop_s:
            return None
        for name, queue in self._queues.items():
            stamp = chosen[name][0]
            while queue and queue[0][0] <= stamp:
                if queue[0][0] < stamp:
                    self.dropped += 1
                queue.popleft()
        return {name: item for name, (_, item) in chosen.items()}

    def pending(self) -> dict[str, int]:
        """How many items wait per input (for diagnostics)."""
        return {n: len(q) for n, q in self._queues.items()}


def pair_by_time(left: Sequence[tuple[float, T]], right: Sequence[tuple[float, T]],
                 slop_s: float) -> list[tuple[T, T]]:
    """Offline pairing of two time-sorted streams (nearest right stamp within ``slop_s``, used once)."""
    out: list[tuple[T, T]] = []
    j = 0
    for stamp, item in left:
        while j + 1 < len(right) and abs(right[j + 1][0] - stamp) <= abs(right[j][0] - stamp):
            j += 1
        if j < len(right) and abs(right[j][0] - stamp) <= slop_s:
            out.append((item, right[j][1]))
            j += 1
    return out
