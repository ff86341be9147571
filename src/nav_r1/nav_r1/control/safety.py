"""Collision zones with Nav2 collision-monitor semantics: polygons in base_link, ``min_points``,
and the most aggressive triggered action wins (stop beats any slowdown, a lower ratio beats a
higher one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from nav_r1.control.config import ZonesConfig
from nav_r1.control.types import ZoneAction


def points_in_polygon(xy: NDArray[np.float32], polygon: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Mask of the (N, 2) points inside the (M, 2) polygon (crossing-number test, vectorised)."""
    x, y = xy[:, 0], xy[:, 1]
    inside = np.zeros(len(xy), dtype=bool)
    m = len(polygon)
    for i in range(m):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % m]
        if y1 == y2:
            continue  # a horizontal edge is never crossed by the horizontal ray
        crosses = (y1 > y) != (y2 > y)
        x_cross = x1 + (y - y1) * ((x2 - x1) / (y2 - y1))
        inside ^= crosses & (x < x_cross)
    return inside


@dataclass(frozen=True)
class Zone:
    """One polygon: ``action`` is STOP or SLOWDOWN (scale = ``ratio``)."""

    name: str
    action: ZoneAction
    polygon: NDArray[np.float64]
    min_points: int
    ratio: float = 0.0

    def __post_init__(self) -> None:
        if self.action not in (ZoneAction.STOP, ZoneAction.SLOWDOWN):
            raise ValueError(f"zone {self.name!r}: action must be 'stop' or 'slowdown', got {self.action!r}")
        object.__setattr__(self, "action", ZoneAction(self.action))  # a plain "stop" becomes the enum
        if self.polygon.ndim != 2 or self.polygon.shape[1] != 2 or len(self.polygon) < 3:
            raise ValueError(f"zone {self.name!r}: polygon must be (M>=3, 2), got {self.polygon.shape}")
        if self.min_points < 1:
            raise ValueError(f"zone {self.name!r}: min_points must be >= 1")

    @property
    def scale(self) -> float:
        """The velocity scale this zone imposes when triggered (0 for stop)."""
        return 0.0 if self.action is ZoneAction.STOP else self.ratio


@dataclass(frozen=True)
class ZoneHit:
    """How many points a zone holds, the nearest one's distance from base_link, and if it triggered."""

    zone: Zone
    points: int
    distance: float
    triggered: bool


@dataclass(frozen=True)
class ZoneVerdict:
    """The result of one obstacle check: the winning zone (if any) and every zone's hit."""

    hits: tuple[ZoneHit, ...]
    winner: ZoneHit | None

    @property
    def action(self) -> ZoneAction:
        """STOP, SLOWDOWN or CLEAR."""
        return self.winner.zone.action if self.winner is not None else ZoneAction.CLEAR

    @property
    def scale(self) -> float:
        """Velocity scale to apply: 1 when clear, 0 on stop."""
        return self.winner.zone.scale if self.winner is not None else 1.0


class ZoneChecker:
    """Checks obstacle points against every enabled zone; pure and cheap (a few numpy passes)."""

    def __init__(self, zones: list[Zone]) -> None:
        self.zones = zones
        pts = [z.polygon for z in zones]
        # One bounding box around all zones drops far points before the polygon tests.
        self._lo = np.min([p.min(axis=0) for p in pts], axis=0) if pts else np.zeros(2)
        self._hi = np.max([p.max(axis=0) for p in pts], axis=0) if pts else np.zeros(2)

    @property
    def box(self) -> tuple[float, float, float, float]:
        """(x_min, x_max, y_min, y_max) around every zone: points outside it never matter."""
        return (float(self._lo[0]), float(self._hi[0]), float(self._lo[1]), float(self._hi[1]))

    @classmethod
    def from_config(cls, cfg: ZonesConfig) -> ZoneChecker:
        """The stop and slowdown zones of a config (disabled ones left out)."""
        zones = []
        if cfg.stop.enabled:
            poly = np.asarray(cfg.stop.points, dtype=np.float64).reshape(-1, 2)
            zones.append(Zone("stop", ZoneAction.STOP, poly, cfg.stop.min_points))
        if cfg.slowdown.enabled:
            poly = np.asarray(cfg.slowdown.points, dtype=np.float64).reshape(-1, 2)
            zones.append(Zone("slowdown", ZoneAction.SLOWDOWN, poly, cfg.slowdown.min_points,
                              cfg.slowdown.slowdown_ratio))
        return cls(zones)

    def check(self, points: NDArray[np.float32]) -> ZoneVerdict:
        """Check (N, 2+) points in base_link (only x and y are used; filter height beforehand)."""
        if points.ndim != 2 or points.shape[1] < 2:
            raise ValueError(f"obstacle points must be (N, 2) or (N, 3), got {points.shape}")
        if not self.zones:
            return ZoneVerdict((), None)
        xy = points[:, :2]
        near = np.all((xy >= self._lo) & (xy <= self._hi), axis=1)
        xy = xy[near]
        hits = []
        for zone in self.zones:
            inside = points_in_polygon(xy, zone.polygon) if len(xy) else np.zeros(0, dtype=bool)
            n = int(np.count_nonzero(inside))
            dist = float(np.min(np.hypot(xy[inside, 0], xy[inside, 1]))) if n else math.inf
            hits.append(ZoneHit(zone, n, dist, n >= zone.min_points))
        triggered = [h for h in hits if h.triggered]
        # Most aggressive wins: the smallest velocity scale; stop (0) beats every slowdown.
        winner = min(triggered, key=lambda h: h.zone.scale) if triggered else None
        return ZoneVerdict(tuple(hits), winner)
