"""Compare what the stack commanded on a replay with what the bag recorded; a JSON-ready report.

Pure functions over :class:`BagTraces` (the recorded side) and :class:`RunTrace` (the side under
test). Times are seconds from the bag's first message. Nothing here reads the wall clock, so an
offline replay gives the same report byte for byte.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nav_r1.bag.navigation import navigation_section, rewards_section
from nav_r1.bag.traces import BagTraces
from nav_r1.control.types import Twist
from r1_core.reasoning_status import ReasoningStatus


@dataclass(frozen=True)
class EvalOptions:
    """Thresholds of the evaluation (stated in the report so numbers can be read back)."""

    # A stop must be commanded within this after the obstacle's depth frame was taken [s].
    stop_target_s: float = 0.25
    # Speeds below these count as standing still [m/s, rad/s].
    still_linear: float = 0.01
    still_angular: float = 0.02
    # Obstacle data may reach the controller this long after the bag's first depth frame before
    # its start-up staleness counts as a safety event (a first frame can beat its camera_info) [s].
    startup_grace_s: float = 0.5
    # Distance scale k of Nav-R1's rewards exp(-k * d) [1/m].
    reward_k: float = 1.0
    # Success radius for navigation metrics (VLN-CE: 3 m).
    success_radius_m: float = 3.0

    def __post_init__(self) -> None:
        for name in ("stop_target_s", "startup_grace_s", "still_linear", "still_angular", "reward_k",
                     "success_radius_m"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0.0):
                raise ValueError(f"evaluation option {name} must be a positive number, got {v!r}")


@dataclass
class RunTrace:
    """What the stack under test did: commands, safety events and loop statistics, on bag time."""

    mode: str
    commands: list[tuple[float, Twist, str]] = field(default_factory=list)
    # (time the event was output, event dict with an absolute "stamp" of its depth frame)
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    # Live only: bag time at which each command arrived at the player (parallel to ``commands``).
    arrivals: list[float] = field(default_factory=list)
    loop: dict[str, Any] = field(default_factory=dict)


def _r(v: float) -> float | None:
    """Round for the report (6 decimals); non-finite values become None (JSON has no inf)."""
    return round(float(v), 6) if math.isfinite(v) else None


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Count, mean, p50, p95, p99, min and max of ``values`` (None entries when empty)."""
    if not values:
        return {"n": 0, "mean": None, "p50": None, "p95": None, "p99": None, "min": None, "max": None}
    a = np.asarray(values, dtype=np.float64)
    return {
        "n": len(a),
        "mean": _r(float(a.mean())),
        "p50": _r(float(np.percentile(a, 50))),
        "p95": _r(float(np.percentile(a, 95))),
        "p99": _r(float(np.percentile(a, 99))),
        "min": _r(float(a.min())),
        "max": _r(float(a.max())),
    }


def action_class(t: Twist, opts: EvalOptions) -> str:
    """The discrete action a twist amounts to: stop, forward, backward, turn_left, turn_right, strafe, climb."""
    if abs(t.wz) > opts.still_angular and abs(t.wz) >= abs(t.vx):
        return "turn_left" if t.wz > 0 else "turn_right"
    if abs(t.vx) > opts.still_linear:
        return "forward" if t.vx > 0 else "backward"
    if abs(t.vy) > opts.still_linear:
        return "strafe"
    if abs(t.vz) > opts.still_linear:
        return "climb"
    return "stop"


def _held(series: list[tuple[float, Twist, str]], times: list[float], t: float) -> Twist | None:
    """The command in force at ``t`` (zero-order hold); None before the first one."""
    i = bisect.bisect_right(times, t) - 1
    return series[i][1] if i >= 0 else None


def compare_commands(bag: BagTraces, run: RunTrace, opts: EvalOptions) -> dict[str, Any]:
    """Action agreement and velocity error of the run against the recorded cmd_vel."""
    if not bag.recorded_cmds:
        return {"available": False, "reason": "the bag holds no recorded cmd_vel"}
    if not run.commands:
        return {"available": False, "reason": "the stack under test commanded nothing"}
    times = [c[0] for c in run.commands]
    pairs = [(t, rec, _held(run.commands, times, t)) for t, rec in bag.recorded_cmds]
    pairs_ok = [(t, rec, cmd) for t, rec, cmd in pairs if cmd is not None]
    if not pairs_ok:
        return {"available": False, "reason": "no recorded command falls after the first replayed one"}
    agree = [action_class(rec, opts) == action_class(cmd, opts) for _, rec, cmd in pairs_ok]
    err = {
        axis: [getattr(cmd, axis) - getattr(rec, axis) for _, rec, cmd in pairs_ok]
        for axis in ("vx", "vy", "wz")
    }
    confusion = Counter(f"{action_class(rec, opts)}->{action_class(cmd, opts)}" for _, rec, cmd in pairs_ok)
    return {
        "available": True,
        "samples": len(pairs_ok),
        "action_agreement": _r(sum(agree) / len(agree)),
        "velocity_error": {
            axis: {
                "rmse": _r(math.sqrt(float(np.mean(np.square(e))))),
                "mae": _r(float(np.mean(np.abs(e)))),
                "max_abs": _r(float(np.max(np.abs(e)))),
            }
            for axis, e in err.items()
        },
        "confusion": dict(sorted(confusion.items())),
    }


def _still(t: Twist, opts: EvalOptions) -> bool:
    lin = math.sqrt(t.vx * t.vx + t.vy * t.vy + t.vz * t.vz)
    return lin <= opts.still_linear and abs(t.wz) <= opts.still_angular


def _time_to_still(run: RunTrace, appeared: float, opts: EvalOptions) -> tuple[float | None, float | None]:
    """When the first still command at or after ``appeared`` was stamped, and when it arrived (live)."""
    times = [c[0] for c in run.commands]
    # The robot may already be commanded still when the obstacle appears: that is a 0 s stop.
    prev = _held(run.commands, times, appeared)
    i = bisect.bisect_left(times, appeared)
    if prev is not None and _still(prev, opts):
        j: int | None = i - 1
    else:
        j = next((k for k in range(i, len(run.commands)) if _still(run.commands[k][1], opts)), None)
    if j is None:
        return None, None
    t_still = max(times[j], appeared)
    arrival = max(run.arrivals[j], appeared) if run.arrivals else None
    return t_still, arrival


def safety_section(bag: BagTraces, run: RunTrace, opts: EvalOptions) -> dict[str, Any]:
    """Zone events, and for every stop: when the obstacle appeared and how long until standstill.

    ``other_events`` lists everything but stop/clear transitions and the start-up staleness: a
    controller has no obstacle data until the first frame reaches it, so the stale/fresh events up
    to its first ``fresh`` are start-up when that ``fresh`` comes within ``startup_grace_s`` of
    the bag's first depth frame.
    """
    counts = Counter(f"{e.get('zone', '?')}:{e.get('action', '?')}" for _, e in run.events)
    first = bag.depth_first_s
    startup_end = -1
    fresh = next((i for i, (_, e) in enumerate(run.events) if e.get("action") == "fresh"), None)
    if fresh is not None and first is not None:
        t_fresh, ev_fresh = run.events[fresh]
        stamp = ev_fresh.get("stamp")
        t_fresh = float(stamp) - bag.t0_s if isinstance(stamp, (int, float)) else t_fresh
        if t_fresh <= first + opts.startup_grace_s:
            startup_end = fresh
    stops, other = [], []
    for i, (t_out, ev) in enumerate(run.events):
        action = ev.get("action")
        startup = action in ("stale", "fresh") and i <= startup_end
        if action not in ("stop", "clear") and not startup:
            other.append({"t": _r(t_out), **ev})
        if action != "stop":
            continue
        stamp = ev.get("stamp")
        appeared = float(stamp) - bag.t0_s if isinstance(stamp, (int, float)) else t_out
        t_still, arrival = _time_to_still(run, appeared, opts)
        delay = (t_still - appeared) if t_still is not None else math.inf
        stop: dict[str, Any] = {
            "obstacle_appeared_s": _r(appeared),
            "event_output_s": _r(t_out),
            "standstill_commanded_s": _r(t_still) if t_still is not None else None,
            "time_to_stop_s": _r(delay),
            "within_target": bool(delay <= opts.stop_target_s),
            "obstacle_distance_m": ev.get("obstacle_distance"),
        }
        if run.arrivals:
            # Live: when the zero command reached us, on the player's bag clock (includes transport).
            stop["time_to_stop_arrival_s"] = _r(arrival - appeared) if arrival is not None else None
        stops.append(stop)
    return {
        "events": [{"t": _r(t), **ev} for t, ev in run.events],
        "counts": dict(sorted(counts.items())),
        "stops": stops,
        "stop_target_s": opts.stop_target_s,
        "all_stops_within_target": all(s["within_target"] for s in stops),
        "slowdowns": sum(1 for _, e in run.events if e.get("action") == "slowdown"),
        "stale": sum(1 for _, e in run.events if e.get("action") == "stale"),
        "other_events": other,
        "first_obstacle_frame_s": _r(first) if first is not None else None,
        "recorded_events": len(bag.recorded_safety),
    }


def _numeric_timings(status: list[tuple[float, ReasoningStatus]]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for _, st in status:
        for k, v in st.timings.items():
            if math.isfinite(v):
                out.setdefault(k, []).append(v)
    return out


def plans_section(bag: BagTraces, run: RunTrace) -> dict[str, Any]:
    """Plan latency (arrival minus the stamp of the observation it was made from) and staleness."""
    # A planner republishes its plan as a heartbeat (same stamp): latency counts first arrivals only.
    seen: set[float] = set()
    latency = []
    for t, p in bag.plans:
        if p.stamp > 0.0 and p.stamp not in seen:
            seen.add(p.stamp)
            latency.append(t - (p.stamp - bag.t0_s))
    arrivals = [t for t, _ in bag.plans]
    intervals = [b - a for a, b in itertools.pairwise(arrivals)]
    # Staleness: at each command of the run, how old the newest plan was (by arrival).
    stale = []
    for t, _, src in run.commands:
        i = bisect.bisect_right(arrivals, t) - 1
        if i >= 0 and src == "navigation":
            stale.append(t - arrivals[i])
    errors = sum(1 for _, st in bag.status if st.error)
    return {
        "plans": len(bag.plans),
        "distinct_plans": len({(p.stamp, p.poses) for _, p in bag.plans}),
        "empty_plans": sum(1 for _, p in bag.plans if not p.poses),
        "latency_s": summary(latency),
        "interval_s": summary(intervals),
        "staleness_s": summary(stale),
        "status_messages": len(bag.status),
        "status_errors": errors,
        "reasoner_timings": {k: summary(v) for k, v in sorted(_numeric_timings(bag.status).items())},
    }


def loop_section(run: RunTrace) -> dict[str, Any]:
    """Rate, period jitter and where the commands came from."""
    times = [c[0] for c in run.commands]
    periods = [b - a for a, b in itertools.pairwise(times)]
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    sources = Counter(c[2] for c in run.commands)
    n = max(len(run.commands), 1)
    return {
        "commands": len(run.commands),
        "rate_hz": _r((len(times) - 1) / span) if span > 0 else None,
        "period_s": summary(periods),
        "source_share": {k: _r(v / n) for k, v in sorted(sources.items())},
        "reported": run.loop,
    }


def evaluate(bag: BagTraces, run: RunTrace, opts: EvalOptions) -> dict[str, Any]:
    """The whole report as a JSON-ready dict."""
    return {
        "mode": run.mode,
        # Who answered: the model names in the recorded status (the privileged expert is "sim-expert").
        "reasoner": sorted({s.model for _, s in bag.status if s.model}),
        "bag": {
            "duration_s": _r(bag.duration_s),
            "topics": {t: {"type": bag.topics[t], "count": bag.counts.get(t, 0)} for t in sorted(bag.topics)},
            "bad_messages": bag.bad_messages,
        },
        "options": {
            "stop_target_s": opts.stop_target_s,
            "startup_grace_s": opts.startup_grace_s,
            "still_linear": opts.still_linear,
            "still_angular": opts.still_angular,
            "reward_k": opts.reward_k,
            "success_radius_m": opts.success_radius_m,
        },
        "commands": compare_commands(bag, run, opts),
        "safety": safety_section(bag, run, opts),
        "plans": plans_section(bag, run),
        "control_loop": loop_section(run),
        "navigation": navigation_section(bag, opts.success_radius_m),
        "rewards": rewards_section(bag, opts.reward_k),
    }


#: Tolerances within which two replays of one bag (e.g. live at rate 1 and rate 5) agree.
REPLAY_TOLERANCES: dict[str, float] = {
    "action_agreement": 0.10,
    "vx_rmse": 0.05,
    "wz_rmse": 0.10,
    "time_to_stop_s": 0.15,
    "obstacle_appeared_s": 0.12,
}


def replay_differences(a: dict[str, Any], b: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Where two reports of one bag differ, against :data:`REPLAY_TOLERANCES` (``ok`` per item)."""
    out: dict[str, dict[str, Any]] = {}

    def put(name: str, va: Any, vb: Any) -> None:
        if va is None or vb is None:
            out[name] = {"a": va, "b": vb, "ok": va is None and vb is None}
            return
        diff = abs(float(va) - float(vb))
        out[name] = {"a": va, "b": vb, "diff": _r(diff), "ok": diff <= REPLAY_TOLERANCES[name]}

    ca, cb = a["commands"], b["commands"]
    if ca.get("available") and cb.get("available"):
        put("action_agreement", ca["action_agreement"], cb["action_agreement"])
        put("vx_rmse", ca["velocity_error"]["vx"]["rmse"], cb["velocity_error"]["vx"]["rmse"])
        put("wz_rmse", ca["velocity_error"]["wz"]["rmse"], cb["velocity_error"]["wz"]["rmse"])
    sa, sb = a["safety"]["stops"], b["safety"]["stops"]
    out["stop_count"] = {"a": len(sa), "b": len(sb), "ok": len(sa) == len(sb)}
    for x, y in zip(sa, sb, strict=False):
        put("time_to_stop_s", x["time_to_stop_s"], y["time_to_stop_s"])
        put("obstacle_appeared_s", x["obstacle_appeared_s"], y["obstacle_appeared_s"])
        break  # the first stop is what the phases script; later ones follow from it
    return out
