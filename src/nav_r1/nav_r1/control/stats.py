"""Loop-period statistics of the fast loop (jitter = |period - nominal|), thread-safe and cheap."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np


def percentiles_ms(samples_s: list[float]) -> dict[str, float]:
    """p50, p99 and max of samples in seconds, as milliseconds (NaN when empty)."""
    if not samples_s:
        return {"p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    a = np.asarray(samples_s) * 1e3
    return {"p50": float(np.percentile(a, 50)), "p99": float(np.percentile(a, 99)), "max": float(a.max())}


class PeriodStats:
    """Collects timer periods and per-call costs between two :meth:`flush` calls."""

    def __init__(self, nominal_period_s: float) -> None:
        self.nominal = nominal_period_s
        self._lock = threading.Lock()
        self._last: float | None = None
        self._periods: list[float] = []
        self._costs: list[float] = []
        self._obstacles: list[float] = []

    def tick(self, t: float) -> None:
        """A timer call at monotonic time ``t`` [s]."""
        with self._lock:
            if self._last is not None:
                self._periods.append(t - self._last)
            self._last = t

    def cost(self, seconds: float) -> None:
        """Time one loop iteration took."""
        with self._lock:
            self._costs.append(seconds)

    def obstacle_cost(self, seconds: float) -> None:
        """Time one obstacle frame took (projection, zones, and a stop publish if any)."""
        with self._lock:
            self._obstacles.append(seconds)

    def flush(self) -> dict[str, Any]:
        """The window's figures (ms) and raw periods (us), and start a new window."""
        with self._lock:
            periods, costs, obstacles = self._periods, self._costs, self._obstacles
            self._periods, self._costs, self._obstacles = [], [], []
        jitter = [abs(p - self.nominal) for p in periods]
        return {
            "nominal_period_ms": self.nominal * 1e3,
            "ticks": len(periods),
            "period_mean_ms": float(np.mean(periods) * 1e3) if periods else float("nan"),
            "jitter_ms": percentiles_ms(jitter),
            "tick_cost_ms": percentiles_ms(costs),
            "obstacle_cost_ms": percentiles_ms(obstacles),
            "obstacle_frames": len(obstacles),
            "periods_us": [round(p * 1e6) for p in periods],
        }
