"""Navigation metrics and Nav-R1's rewards on the recorded run, when the bag carries a goal or path.

The metric formulas live in :mod:`r1_core.nav.metrics`; this module only picks the series out of the
bag: the odometry trajectory, the goal (``goal_pose``) and the reference path, and the model's raw
replies on ``nav_r1/status`` for the format reward.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nav_r1.bag.traces import BagTraces
from nav_r1.rewards import endpoint_reward, format_reward, path_reward
from r1_core.nav import metrics
from r1_core.trajectory import discrete_frechet  # noqa: F401  (re-exported: callers import it from here)


def _r(v: float) -> float | None:
    return round(float(v), 6) if math.isfinite(v) else None


def trajectory(bag: BagTraces) -> NDArray[np.float64]:
    """The odometry positions (N, 2) in ``odom``, consecutive duplicates dropped."""
    if not bag.odom:
        return np.zeros((0, 2))
    xy = np.array([(o.pose.x, o.pose.y) for _, o in bag.odom], dtype=np.float64)
    keep = np.ones(len(xy), dtype=bool)
    keep[1:] = np.any(np.abs(np.diff(xy, axis=0)) > 1e-9, axis=1)
    return xy[keep]


def _goal(bag: BagTraces) -> tuple[float, float] | None:
    if bag.goal is not None:
        return bag.goal
    return bag.reference_path[-1] if bag.reference_path else None


def _stopped(bag: BagTraces) -> bool:
    """Whether the run ended standing still (the last odometry twist is zero)."""
    if not bag.odom:
        return False
    tw = bag.odom[-1][1].twist
    return abs(tw.vx) < 1e-3 and abs(tw.vy) < 1e-3 and abs(tw.wz) < 1e-3


def navigation_section(bag: BagTraces, success_radius_m: float) -> dict[str, Any]:
    """NE, SR, OSR, SPL, nDTW and SDTW of the recorded trajectory (VLN-CE definitions)."""
    goal = _goal(bag)
    traj = trajectory(bag)
    if goal is None:
        return {"available": False, "reason": "the bag has neither goal_pose nor nav_r1/reference_path"}
    if len(traj) == 0:
        return {"available": False, "reason": "the bag has no odometry"}
    g = np.asarray(goal, dtype=np.float64)
    if bag.reference_path:
        ref = np.asarray(bag.reference_path, dtype=np.float64)
        shortest, ref_from = metrics.path_length(ref) if len(ref) > 1 else 0.0, "reference_path"
    else:
        # No map to plan a geodesic on: the straight line from the start is the reference.
        ref = np.stack([traj[0], g])
        shortest, ref_from = float(np.linalg.norm(g - traj[0])), "straight line to goal"
    ep = metrics.evaluate_episode("replay", traj, ref, g, shortest, _stopped(bag),
                                  threshold=success_radius_m, d_th=success_radius_m)
    return {
        "available": True,
        "navigation_error_m": _r(ep.ne),
        "stopped": ep.stopped,
        "success": ep.success,
        "oracle_success": ep.oracle_success,
        "spl": _r(ep.spl),
        "ndtw": _r(ep.ndtw),
        "sdtw": _r(ep.sdtw),
        "path_length_m": _r(ep.path_length),
        "shortest_path_m": _r(ep.shortest_length),
        "reference": ref_from,
    }


def rewards_section(bag: BagTraces, k: float) -> dict[str, Any]:
    """Nav-R1's GRPO rewards on the run: format (mean R_format of the replies), path and endpoint.

    The functions are :mod:`nav_r1.rewards`' (the trainer's); here they score the whole recorded
    trajectory (resampled every 0.25 m) instead of one reply's plan.
    """
    replies = [st.raw for _, st in bag.status if st.raw]
    out: dict[str, Any] = {"available": True, "replies": len(replies), "k": k}
    out["format"] = _r(sum(format_reward(r) for r in replies) / len(replies)) if replies else None
    traj = trajectory(bag)
    goal = _goal(bag)
    if bag.reference_path and len(traj):
        ref = np.asarray(bag.reference_path, dtype=np.float64)
        out["path"] = _r(path_reward(metrics.resample(traj), metrics.resample(ref), k))
    else:
        out["path"] = None
    if goal is not None and len(traj):
        out["endpoint"] = _r(endpoint_reward(traj[-1], goal, k))
    else:
        out["endpoint"] = None
    if out["format"] is None and out["path"] is None and out["endpoint"] is None:
        return {"available": False, "reason": "the bag has no model replies, goal or reference path"}
    return out
