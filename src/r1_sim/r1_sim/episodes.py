"""VLN-CE-style episodes: instruction, start pose, goal, reference path; JSON I/O and a generator.

File schema (``schema: "r1_sim.episodes/1"``; see docs/episodes.md)::

    {"schema": "r1_sim.episodes/1",
     "episodes": [{
        "episode_id": "apartment_4room-dog-0-000",   # unique string
        "scene": "apartment_4room",       # a named scene, "procedural_<seed>_<n_rooms>", or a .json path
        "robot": "dog",                   # dog | uav | wheeled
        "instruction": "Leave the hallway, walk past the bed and stop at the fridge.",
        "start": {"x": 1.2, "y": 0.8, "yaw": 1.57, "z": 0.34},   # world == odom frame, metres/radians
        "goal_xy": [5.1, 6.0],
        "goal_z": null,                   # UAV: target altitude of base_link [m]; null for ground robots
        "reference_path": [[x, y, z], ...],   # >= 2 points, the shortest free path, start to goal
        "success_radius": 1.0,            # metres; our rooms are small, VLN-CE uses 3.0
        "goal_object": "r01_fridge",      # object id in the scene, or null
        "goal_label": "fridge",
        "shortest_length": 6.3}]}         # geodesic start-goal distance [m]
"""

from __future__ import annotations

import gzip
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from r1_core.reasoner import Pose2D
from r1_sim.navmap import NavMap
from r1_sim.robots import SIM_ROBOTS, load_robot_body, robot_profile
from r1_sim.scene import Scene, SceneError, SceneObject, load_scene

SCHEMA = "r1_sim.episodes/1"
UAV_CRUISE_Z = 1.0


class EpisodeError(ValueError):
    """An episode file or record is invalid; the message names the field."""


@dataclass(frozen=True)
class Episode:
    """One navigation episode (see the module docstring for the JSON form)."""

    episode_id: str
    scene: str
    robot: str
    instruction: str
    start: Pose2D
    goal_xy: tuple[float, float]
    reference_path: NDArray[np.float64]  # (N, 3)
    goal_z: float | None = None
    success_radius: float = 1.0
    goal_object: str | None = None
    goal_label: str | None = None
    shortest_length: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def goal_point(self) -> NDArray[np.float64]:
        """The goal as (x, y) for ground robots or (x, y, z) for the UAV (what the metrics compare)."""
        if self.goal_z is None:
            return np.array(self.goal_xy, dtype=np.float64)
        return np.array([*self.goal_xy, self.goal_z], dtype=np.float64)

    def scene_obj(self, base: Path | None = None) -> Scene:
        """Load the scene this episode names (see :func:`resolve_scene`)."""
        return resolve_scene(self.scene, base)

    def to_dict(self) -> dict[str, Any]:
        """The JSON record of this episode."""
        return {
            "episode_id": self.episode_id, "scene": self.scene, "robot": self.robot,
            "instruction": self.instruction,
            "start": {"x": self.start.x, "y": self.start.y, "yaw": self.start.yaw, "z": self.start.z},
            "goal_xy": list(self.goal_xy), "goal_z": self.goal_z,
            "reference_path": np.round(self.reference_path, 4).tolist(),
            "success_radius": self.success_radius, "goal_object": self.goal_object,
            "goal_label": self.goal_label, "shortest_length": round(self.shortest_length, 4),
            **({"extra": self.extra} if self.extra else {}),
        }


def _num(rec: dict[str, Any], key: str, where: str, *, optional: bool = False) -> float | None:
    if key not in rec:
        if optional:
            return None
        raise EpisodeError(f"{where}.{key}: missing")
    v = rec[key]
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise EpisodeError(f"{where}.{key}: must be a finite number, got {v!r}")
    return float(v)


def _str(rec: dict[str, Any], key: str, where: str, *, optional: bool = False) -> str | None:
    v = rec.get(key)
    if v is None and optional:
        return None
    if not isinstance(v, str) or not v.strip():
        raise EpisodeError(f"{where}.{key}: must be a non-empty string, got {v!r}")
    return v


def episode_from_dict(rec: Any, where: str = "episode") -> Episode:
    """Validate one JSON record; :class:`EpisodeError` names the first bad field."""
    if not isinstance(rec, dict):
        raise EpisodeError(f"{where}: must be an object, got {type(rec).__name__}")
    robot = _str(rec, "robot", where)
    if robot not in SIM_ROBOTS:
        raise EpisodeError(f"{where}.robot: unknown robot {robot!r}; expected one of {', '.join(SIM_ROBOTS)}")
    start = rec.get("start")
    if not isinstance(start, dict):
        raise EpisodeError(f"{where}.start: must be an object with x, y, yaw (and z)")
    sx, sy, syaw = (_num(start, k, f"{where}.start") for k in ("x", "y", "yaw"))
    sz = _num(start, "z", f"{where}.start", optional=True) or 0.0
    goal = rec.get("goal_xy")
    if (not isinstance(goal, list) or len(goal) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in goal)):
        raise EpisodeError(f"{where}.goal_xy: must be [x, y] with finite numbers, got {goal!r}")
    try:
        ref = np.asarray(rec.get("reference_path"), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise EpisodeError(f"{where}.reference_path: must be a list of [x, y, z] points ({exc})") from exc
    if ref.ndim != 2 or ref.shape[1] != 3 or ref.shape[0] < 2 or not np.all(np.isfinite(ref)):
        raise EpisodeError(f"{where}.reference_path: must hold >= 2 finite [x, y, z] points, got shape {ref.shape}")
    radius = _num(rec, "success_radius", where, optional=True)
    if radius is not None and radius <= 0:
        raise EpisodeError(f"{where}.success_radius: must be > 0, got {radius}")
    goal_z = _num(rec, "goal_z", where, optional=True)
    if robot_profile(robot).flies and goal_z is None:
        raise EpisodeError(f"{where}.goal_z: required for the flying robot {robot!r}")
    extra = rec.get("extra", {})
    return Episode(
        episode_id=str(_str(rec, "episode_id", where)),
        scene=str(_str(rec, "scene", where)),
        robot=str(robot),
        instruction=str(_str(rec, "instruction", where)),
        start=Pose2D(float(sx), float(sy), float(syaw), float(sz)),  # type: ignore[arg-type]
        goal_xy=(float(goal[0]), float(goal[1])),
        reference_path=ref,
        goal_z=goal_z,
        success_radius=1.0 if radius is None else radius,
        goal_object=_str(rec, "goal_object", where, optional=True),
        goal_label=_str(rec, "goal_label", where, optional=True),
        shortest_length=_num(rec, "shortest_length", where, optional=True) or 0.0,
        extra=extra if isinstance(extra, dict) else {},
    )


def save_episodes(path: str | Path, episodes: Sequence[Episode]) -> None:
    """Write episodes as a schema-tagged JSON file."""
    Path(path).write_text(json.dumps({"schema": SCHEMA, "episodes": [e.to_dict() for e in episodes]}, indent=1))


def load_episodes(path: str | Path, check_scenes: bool = True) -> list[Episode]:
    """Read and validate an episode file; :class:`EpisodeError` names the file, episode and field."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise EpisodeError(f"{p}: cannot read episode file: {exc}") from exc
    try:
        data = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise EpisodeError(f"{p}: not a readable gzip/UTF-8 file: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise EpisodeError(f"{p}: not valid JSON: {exc}") from exc
    if isinstance(data, dict) and "schema" not in data and isinstance(data.get("episodes"), list):
        raise EpisodeError(f"{p}: schema: this is a VLN-CE episode file, not ours ({SCHEMA!r}); read it with "
                           "r1_sim.vlnce, run it with `nav-r1 sim --backend habitat --scene PATH`, or score "
                           "paths with `nav-r1 evaluate-paths` (docs/benchmarks.md)")
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise EpisodeError(f"{p}: schema: expected {SCHEMA!r}, found {found!r}")
    recs = data.get("episodes")
    if not isinstance(recs, list):
        raise EpisodeError(f"{p}: episodes: must be a list")
    out = [episode_from_dict(r, f"{p}: episodes[{i}]") for i, r in enumerate(recs)]
    ids = [e.episode_id for e in out]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise EpisodeError(f"{p}: episode_id: duplicated {sorted(dup)}")
    if check_scenes:
        seen: dict[str, str] = {}
        for i, e in enumerate(out):
            if e.scene not in seen:
                try:
                    resolve_scene(e.scene, base=p.parent)
                    seen[e.scene] = ""
                except SceneError as exc:
                    raise EpisodeError(f"{p}: episodes[{i}].scene: {exc}") from exc
    return out


def resolve_scene(name: str, base: Path | None = None) -> Scene:
    """The scene an episode names: a named scene, ``procedural_<seed>_<n_rooms>``, or a JSON path."""
    if base is not None and name.endswith(".json") and not Path(name).is_absolute():
        return load_scene(base / name)
    return load_scene(name)


# -- generation -----------------------------------------------------------------------------------
TEMPLATES_OTHER_ROOM = (
    "Leave the {start_room}, {verb} past the {via} and stop at {goal}.",
    "Go through the door into the {goal_room} and stop next to {goal}.",
    "{Verb} out of the {start_room} into the {goal_room} and wait by {goal}.",
    "Head past the {via}, enter the {goal_room}, and stop at {goal}.",
)
TEMPLATES_SAME_ROOM = (
    "{Verb} to {goal} in the {goal_room} and stop there.",
    "Find {goal} in this room and stop next to it.",
)


def _goal_phrase(scene: Scene, obj: SceneObject) -> str:
    return f"the {obj.label}" if scene.label_count(obj.label) == 1 else f"the {obj.label} in the {obj.room}"


def _rooms_along(scene: Scene, path: NDArray[np.float64]) -> list[str]:
    rooms: list[str] = []
    for k in range(len(path) - 1):
        for t in np.linspace(0, 1, 12, endpoint=False):
            room = scene.room_at(path[k, :2] + t * (path[k + 1, :2] - path[k, :2]))
            if room is not None and (not rooms or rooms[-1] != room.name):
                rooms.append(room.name)
    return rooms


def instruction_for(
    scene: Scene, path: NDArray[np.float64], goal: SceneObject, rng: np.random.Generator, robot: str,
    goal_z: float | None = None,
) -> str:
    """A templated instruction for a path ending at ``goal``, naming rooms and a landmark passed."""
    rooms = _rooms_along(scene, path)
    start_room = rooms[0] if rooms else goal.room
    flies = robot_profile(robot).flies
    verb = "fly" if flies else "walk"
    # A landmark: an object (not the goal, with a unique label) close to the path's middle part.
    via = None
    best = 1.5
    for o in scene.objects:
        if o.object_id == goal.object_id or scene.label_count(o.label) != 1:
            continue
        d = min(o.box.distance_xy(p) for p in _dense(path[:, :2])[2:-2]) if len(path) else math.inf
        if d < best:
            via, best = o.label, d
    if start_room != goal.room:
        options = [t for t in TEMPLATES_OTHER_ROOM if via is not None or "{via}" not in t]
    else:
        options = list(TEMPLATES_SAME_ROOM)
    text = options[int(rng.integers(len(options)))].format(
        start_room=start_room, goal_room=goal.room, via=via, goal=_goal_phrase(scene, goal), verb=verb,
        Verb=verb.capitalize())
    if flies and goal_z is not None:
        text += f" Hover there at about {goal_z:.2f} m."
    return text


def _dense(path: NDArray[np.float64], step: float = 0.25) -> NDArray[np.float64]:
    pts = [path[0]]
    for a, b in itertools.pairwise(path):
        n = max(1, int(np.linalg.norm(b - a) / step))
        pts += [a + (b - a) * (k / n) for k in range(1, n + 1)]
    return np.asarray(pts)


def _goal_cell(navmap: NavMap, obj: SceneObject, free: NDArray[np.float64]) -> NDArray[np.float64] | None:
    x0, y0, x1, y1 = obj.box.footprint()
    dx = np.maximum.reduce([x0 - free[:, 0], np.zeros(len(free)), free[:, 0] - x1])
    dy = np.maximum.reduce([y0 - free[:, 1], np.zeros(len(free)), free[:, 1] - y1])
    d = np.hypot(dx, dy)
    k = int(np.argmin(d))
    # Within arm's reach of the object: the inflation radius plus a little.
    return free[k] if d[k] <= navmap.robot_radius + 0.4 else None


def generate_episodes(
    scene: Scene,
    n: int,
    seed: int,
    robot: str,
    *,
    min_length: float = 3.0,
    max_length: float = 10.0,
    success_radius: float = 1.0,
    navmap: NavMap | None = None,
) -> list[Episode]:
    """``n`` reproducible episodes in ``scene`` for ``robot``, geodesic length in [min, max] metres."""
    profile = robot_profile(robot)
    if n < 0:
        raise EpisodeError(f"n: must be >= 0, got {n}")
    rng = np.random.default_rng(seed)
    navmap = navmap or NavMap(scene, profile.radius)
    free = navmap.free_cells_xy()
    # Start cells keep a margin beyond the planning radius, so the robot does not start touching.
    roomy = navmap.free_cells_xy(min_clearance=navmap.robot_radius + 0.15)
    base_z = 0.0 if profile.flies else load_robot_body(robot).ground_clearance
    goals = [(o, g) for o in scene.objects if (g := _goal_cell(navmap, o, free)) is not None]
    if not goals:
        raise EpisodeError(f"scene '{scene.name}' has no reachable labelled object for robot '{robot}'")
    out: list[Episode] = []
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 50 * max(n, 1):
            raise EpisodeError(
                f"scene '{scene.name}': could only make {len(out)} of {n} episodes of {min_length}-{max_length} m")
        obj, goal = goals[int(rng.integers(len(goals)))]
        cand = roomy[rng.permutation(len(roomy))[:60]]
        lengths = navmap.grid_distances(cand, goal)
        ok = np.nonzero((lengths >= min_length * 1.02) & (lengths <= max_length))[0]
        if ok.size == 0:
            continue
        start_xy = cand[ok[0]]
        path2 = navmap.shortest_path(start_xy, goal)
        length = float(np.linalg.norm(np.diff(path2, axis=0), axis=1).sum())
        if not min_length <= length <= max_length:
            continue
        start_z = float(UAV_CRUISE_Z if profile.flies else base_z)
        goal_z = float(rng.choice([0.75, 1.0, 1.25, 1.5])) if profile.flies else None
        s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(path2, axis=0), axis=1))])
        z = start_z + (s / s[-1]) * ((goal_z if goal_z is not None else start_z) - start_z)
        ref = np.column_stack([path2, z])
        start = Pose2D(float(start_xy[0]), float(start_xy[1]), float(rng.uniform(-math.pi, math.pi)), start_z)
        out.append(Episode(
            episode_id=f"{scene.name}-{robot}-{seed}-{len(out):03d}",
            scene=scene.name, robot=robot,
            instruction=instruction_for(scene, ref, obj, rng, robot, goal_z),
            start=start, goal_xy=(float(goal[0]), float(goal[1])), reference_path=ref, goal_z=goal_z,
            success_radius=success_radius, goal_object=obj.object_id, goal_label=obj.label,
            shortest_length=float(np.linalg.norm(np.diff(ref, axis=0), axis=1).sum()),
        ))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m r1_sim.episodes``: generate an episode file for a scene and robot."""
    import argparse

    ap = argparse.ArgumentParser(description="Generate VLN-CE-style episodes for the embedded simulator.")
    ap.add_argument("--scene", default="apartment_4room", help="named scene, seed:N[:rooms] or scene .json")
    ap.add_argument("--robot", default="dog", choices=SIM_ROBOTS)
    ap.add_argument("-n", type=int, default=10, help="number of episodes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--success-radius", type=float, default=1.0)
    ap.add_argument("--out", required=True, help="output .json")
    args = ap.parse_args(argv)
    try:
        eps = generate_episodes(load_scene(args.scene), args.n, args.seed, args.robot,
                                success_radius=args.success_radius)
    except (SceneError, EpisodeError) as exc:
        ap.error(str(exc))
    save_episodes(args.out, eps)
    print(f"wrote {len(eps)} episodes to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
