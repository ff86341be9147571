"""VLN-CE's episode measures, as its task defines them; ROS-free, 3-D positions.

Checked against VLN-CE's ``habitat_extensions/measures.py`` and habitat-lab's
``habitat/tasks/nav/nav.py`` (the ``Success``, ``SPL`` and ``DistanceToGoal`` measures it uses):

* NE (``distance_to_goal`` at the end): distance from the final position to the goal, geodesic on
  the navigation mesh in Habitat; here ``distance`` (default 3-D Euclidean).
* success: the agent called stop **and** NE < 3.0 m (strict ``<``).
* oracle_success: some position of the path had distance to the goal < 3.0 m.
* path_length: the sum of 3-D Euclidean steps between successive positions (VLN-CE's
  ``PathLength`` is Euclidean even in Habitat).
* spl = success * l / max(l, path_length), ``l`` the episode's start-goal geodesic distance
  (``info.geodesic_distance``; habitat-lab takes it from the distance to goal at reset).
* ndtw = exp(-DTW(Q, R) / (|R| * 3.0)), Q the agent's positions with consecutive repeats removed
  (NDTW appends a position only when it changed), R the ground-truth locations, DTW with
  Euclidean point cost.  VLN-CE defaults to ``fastdtw`` (radius 1), an approximation that is
  never below the exact DTW; this module computes the exact DTW, so for the same path its nDTW is
  >= VLN-CE's (equal whenever fastdtw finds the optimal warping, as on short paths).
* sdtw = success * ndtw.  steps: actions taken, STOP included (``StepsTaken``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from r1_core.nav.metrics import dtw, path_length, spl

#: VLN-CE's success distance and nDTW threshold (``SUCCESS_DISTANCE: 3.0``) [m].
VLNCE_SUCCESS_DISTANCE = 3.0
#: Names of the per-episode metrics, in report order (the main job's names).
METRIC_NAMES = ("ne", "success", "oracle_success", "spl", "ndtw", "sdtw", "path_length", "steps")

Distance3D = Callable[[NDArray[np.float64], NDArray[np.float64]], float]


def _points3(value: ArrayLike, what: str) -> NDArray[np.float64]:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 1 and arr.size == 3:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] == 0:
        raise ValueError(f"{what} must be a non-empty (N, 3) array of positions, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contains non-finite coordinates")
    return arr


def euclidean3(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """3-D Euclidean distance (VLN-CE's ``euclidean_distance``)."""
    return float(np.linalg.norm(np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)))


def drop_repeats(points: NDArray[np.float64]) -> NDArray[np.float64]:
    """Consecutive identical positions collapsed to one (what VLN-CE's NDTW records)."""
    if len(points) < 2:
        return points
    keep = np.concatenate([[True], np.any(points[1:] != points[:-1], axis=1)])
    return points[keep]


@dataclass(frozen=True)
class VlnceMetrics:
    """VLN-CE's measures of one episode (metres)."""

    episode_id: str
    ne: float
    success: float
    oracle_success: float
    spl: float
    ndtw: float
    sdtw: float
    path_length: float
    steps: int
    geodesic_distance: float
    stopped: bool

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def vlnce_episode_metrics(
    episode_id: str,
    positions: ArrayLike,
    stopped: bool,
    goal: ArrayLike,
    reference: ArrayLike,
    geodesic_distance: float,
    *,
    distance: Distance3D | None = None,
    success_distance: float = VLNCE_SUCCESS_DISTANCE,
    steps: int | None = None,
    dtw_positions: ArrayLike | None = None,
) -> VlnceMetrics:
    """Every VLN-CE measure of one episode; ``distance`` is the distance to the goal (geodesic when given).

    ``positions`` are the agent's 3-D positions from the start on, in the frame of ``goal`` and
    ``reference``; ``steps`` defaults to the number of moves between positions plus the stop.
    ``dtw_positions`` replaces them for nDTW only: a continuous trajectory sampled at a control
    rate resampled at VLN-CE's step length, since a VLN-CE agent records one position per action
    and DTW sums a cost per recorded position.
    """
    q = _points3(positions, "positions")
    g = _points3(goal, "goal")[0]
    r = _points3(reference, "reference")
    if not math.isfinite(geodesic_distance) or geodesic_distance < 0:
        raise ValueError(f"geodesic_distance must be finite and >= 0, got {geodesic_distance}")
    if success_distance <= 0:
        raise ValueError(f"success_distance must be > 0, got {success_distance}")
    dist = distance or euclidean3
    to_goal = [dist(p, g) for p in q]
    ne = float(to_goal[-1])
    ok = bool(stopped) and ne < success_distance
    length = path_length(q)
    qd = q if dtw_positions is None else _points3(dtw_positions, "dtw_positions")
    nd = math.exp(-dtw(drop_repeats(qd), r) / (len(r) * success_distance))
    if steps is None:
        steps = len(q) - 1 + (1 if stopped else 0)
    return VlnceMetrics(
        episode_id=episode_id, ne=ne, success=float(ok),
        oracle_success=float(any(d < success_distance for d in to_goal)),
        spl=spl(ok, geodesic_distance, length), ndtw=nd, sdtw=nd if ok else 0.0, path_length=length,
        steps=int(steps), geodesic_distance=float(geodesic_distance), stopped=bool(stopped),
    )


def aggregate_vlnce(metrics: Sequence[VlnceMetrics]) -> dict[str, float]:
    """Means of every measure over the scored episodes, and their count."""
    out: dict[str, float] = {"episodes": float(len(metrics))}
    if metrics:
        for k in METRIC_NAMES:
            out[k] = float(np.mean([float(getattr(m, k)) for m in metrics]))
    return out


@dataclass(frozen=True)
class AgentPath:
    """One agent trajectory from a paths file: positions in the episode file's frame, and whether it stopped."""

    positions: NDArray[np.float64]  # (N, 3)
    stopped: bool
    steps: int | None = None


class PathsError(ValueError):
    """A paths file entry is invalid; the message names the episode and field."""


def parse_paths(data: Any, where: str = "paths") -> dict[str, AgentPath]:
    """Validate ``{episode_id: {"positions": [[x, y, z], ...], "stopped": bool[, "steps": int]}}``."""
    if not isinstance(data, Mapping):
        raise PathsError(f"{where}: must map episode ids to {{positions, stopped}}, got {type(data).__name__}")
    out: dict[str, AgentPath] = {}
    for eid, rec in data.items():
        w = f"{where}: episode {eid}"
        if not isinstance(rec, Mapping):
            raise PathsError(f"{w}: must be an object with positions and stopped")
        pos = rec.get("positions")
        if not isinstance(pos, list) or not pos or not all(
                isinstance(p, list) and len(p) == 3
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in p)
                for p in pos):
            raise PathsError(f"{w}.positions: must be a non-empty list of [x, y, z] finite numbers")
        arr = np.asarray(pos, dtype=np.float64)
        stopped = rec.get("stopped")
        if not isinstance(stopped, bool):
            raise PathsError(f"{w}.stopped: must be true or false, got {stopped!r}")
        steps = rec.get("steps")
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 0):
            raise PathsError(f"{w}.steps: must be an integer >= 0, got {steps!r}")
        out[str(eid)] = AgentPath(arr, stopped, steps)
    return out
