"""VLN-CE's released episode files (R2R-CE, RxR-CE), read as they are; ROS-free.

The schema is VLN-CE's own loader (``habitat_extensions/task.py``: ``VLNCEDatasetV1`` for R2R-CE,
``RxRVLNCEDatasetV1`` for RxR-CE, episodes built as ``VLNExtendedEpisode(**record)``), whose
records are habitat-lab ``NavigationEpisode`` fields::

    {"episodes": [{
        "episode_id": 1, "trajectory_id": 4, "scene_id": "mp3d/7y3sRwLe3Va/7y3sRwLe3Va.glb",
        "start_position": [x, y, z],            # habitat's y-up world frame, metres (agent on the floor)
        "start_rotation": [x, y, z, w],         # unit quaternion, habitat-lab's coefficient order
        "info": {"geodesic_distance": 9.89},    # start-goal geodesic distance: SPL's l
        "goals": [{"position": [x, y, z], "radius": 3.0}],
        "reference_path": [[x, y, z], ...],     # the R2R nodes the instruction describes
        "instruction": {"instruction_text": "...", "instruction_tokens": [...],
                        # RxR-CE also: "instruction_id", "language", "annotator_id",
                        # "edit_distance", "timed_instruction"
                       }}],
     "instruction_vocab": {"word_list": [...], ...}}   # R2R-CE only

Ground truth (``{split}_gt.json.gz``; RxR-CE ``{split}_{role}_gt.json.gz``) maps each episode id
(a string) to ``{"locations": [[x, y, z], ...], "actions": [...], "forward_steps": n}``: the
agent positions of the shortest-path follower, what VLN-CE's NDTW measure compares against.
RxR-CE files come one per annotator role: ``{split}_guide.json.gz``, ``{split}_follower.json.gz``.
Plain ``.json`` files are read too.  Frames are converted in :mod:`r1_sim.habitat_frame` only.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from r1_core.reasoner import Pose2D
from r1_sim.episodes import Episode, EpisodeError
from r1_sim.habitat_frame import habitat_quat_xyzw_to_yaw, habitat_to_world_points

#: VLN-CE's success distance (task configs: ``TASK.SUCCESS.SUCCESS_DISTANCE: 3.0``) [m].
VLNCE_SUCCESS_DISTANCE = 3.0
#: RxR-CE's annotation roles (``RxRVLNCEDatasetV1.annotation_roles``).
RXR_ROLES = ("guide", "follower")
_ROLE_RE = re.compile(r"_(guide|follower)(_gt)?\.json(\.gz)?$")


class VlnceError(EpisodeError):
    """A VLN-CE episode or ground-truth file is invalid; the message names the episode and field."""


@dataclass(frozen=True)
class GroundTruth:
    """One episode's ground truth: the follower's positions (habitat frame), actions, forward steps."""

    locations: NDArray[np.float64]  # (M, 3), habitat frame
    actions: tuple[int, ...] = ()
    forward_steps: int | None = None


@dataclass(frozen=True)
class VlnceEpisode:
    """One VLN-CE episode as released (positions in habitat's y-up frame)."""

    episode_id: str
    scene_id: str
    start_position: NDArray[np.float64]  # (3,) habitat frame
    start_rotation: NDArray[np.float64]  # (4,) x, y, z, w
    goal_position: NDArray[np.float64]  # (3,) habitat frame, goals[0]
    instruction: str
    trajectory_id: str | None = None
    goal_radius: float | None = None
    geodesic_distance: float | None = None
    reference_path: NDArray[np.float64] | None = None  # (N, 3) habitat frame
    language: str | None = None
    instruction_id: str | None = None
    role: str | None = None
    gt: GroundTruth | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    # -- our frame -------------------------------------------------------------------------
    @property
    def start_world(self) -> NDArray[np.float64]:
        """The start (agent on the floor) in our z-up world frame."""
        return habitat_to_world_points(self.start_position)

    @property
    def start_yaw(self) -> float:
        """The start heading in our frame (radians)."""
        return habitat_quat_xyzw_to_yaw(self.start_rotation)

    @property
    def goal_world(self) -> NDArray[np.float64]:
        """The goal position in our z-up world frame."""
        return habitat_to_world_points(self.goal_position)

    def gt_locations_world(self) -> NDArray[np.float64] | None:
        """The ground-truth locations in our frame (None without a ground-truth file)."""
        return None if self.gt is None else habitat_to_world_points(self.gt.locations)

    def reference_world(self) -> NDArray[np.float64] | None:
        """The reference path in our frame (None when the file has none)."""
        return None if self.reference_path is None else habitat_to_world_points(self.reference_path)

    def to_episode(self, robot: str, base_height: float, scene: str | None = None) -> Episode:
        """This episode in our own format for ``robot``, whose base_link stands ``base_height`` above the floor.

        Heights are kept: ``start.z`` is the floor height under the start plus ``base_height``, so a
        simulator that places the robot by it starts on the episode's floor.  The reference path is
        the ground-truth locations when present (VLN-CE's nDTW reference), else ``reference_path``.
        """
        start = self.start_world
        goal = self.goal_world
        ref, kind = self.gt_locations_world(), "gt_locations"
        if ref is None:
            ref, kind = self.reference_world(), "reference_path"
        if ref is None or len(ref) < 2:
            ref, kind = np.stack([start, goal]), "start_goal"
        ref = ref + np.array([0.0, 0.0, base_height])
        shortest = self.geodesic_distance
        if shortest is None:
            shortest = float(np.linalg.norm(np.diff(ref, axis=0), axis=1).sum())
        return Episode(
            episode_id=self.episode_id, scene=scene or self.scene_id, robot=robot, instruction=self.instruction,
            start=Pose2D(float(start[0]), float(start[1]), self.start_yaw, float(start[2]) + base_height),
            goal_xy=(float(goal[0]), float(goal[1])), reference_path=ref, goal_z=None,
            success_radius=VLNCE_SUCCESS_DISTANCE, shortest_length=float(shortest),
            extra={"vlnce": {"goal_z": float(goal[2]), "base_height": base_height, "scene_id": self.scene_id,
                             "language": self.language, "role": self.role, "trajectory_id": self.trajectory_id,
                             "reference": kind}},
        )


# -- reading -------------------------------------------------------------------------------------
def read_json(path: str | Path) -> Any:
    """A ``.json`` or ``.json.gz`` file's content; :class:`VlnceError` naming the file when unreadable."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise VlnceError(f"{p}: cannot read: {exc}") from exc
    try:
        text = gzip.decompress(raw).decode("utf-8") if raw[:2] == b"\x1f\x8b" else raw.decode("utf-8")
        return json.loads(text)
    except (OSError, EOFError, UnicodeDecodeError) as exc:  # gzip.BadGzipFile is an OSError
        raise VlnceError(f"{p}: not a readable gzip/UTF-8 file: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise VlnceError(f"{p}: not valid JSON: {exc}") from exc


def role_of(path: str | Path) -> str | None:
    """The RxR-CE annotation role a file name carries (``val_unseen_guide.json.gz`` -> ``guide``)."""
    m = _ROLE_RE.search(Path(path).name)
    return m.group(1) if m else None


def default_gt_path(path: str | Path) -> Path | None:
    """The ground-truth file VLN-CE keeps beside an episode file (``{name}_gt.json.gz``), if it exists."""
    p = Path(path)
    stem = p.name.removesuffix(".gz").removesuffix(".json")
    for cand in (p.with_name(f"{stem}_gt.json.gz"), p.with_name(f"{stem}_gt.json")):
        if cand.is_file():
            return cand
    return None


def is_vlnce_data(data: Any) -> bool:
    """Whether parsed JSON looks like a VLN-CE episode file (not our schema-tagged format)."""
    return (isinstance(data, dict) and "schema" not in data and isinstance(data.get("episodes"), list)
            and (not data["episodes"] or (isinstance(data["episodes"][0], dict)
                 and "start_rotation" in data["episodes"][0])))


def _vec(value: Any, n: int, where: str) -> NDArray[np.float64]:
    if (not isinstance(value, (list, tuple)) or len(value) != n
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)):
        raise VlnceError(f"{where}: must be a list of {n} finite numbers, got {value!r}"[:300])
    return np.asarray(value, dtype=np.float64)


def _points(value: Any, where: str, min_points: int = 1) -> NDArray[np.float64]:
    if not isinstance(value, list) or len(value) < min_points:
        raise VlnceError(f"{where}: must be a list of at least {min_points} [x, y, z] points")
    return np.stack([_vec(v, 3, f"{where}[{i}]") for i, v in enumerate(value)])


def _opt_str(rec: dict[str, Any], key: str, where: str) -> str | None:
    v = rec.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise VlnceError(f"{where}.{key}: must be a string or integer, got {v!r}")
    return str(v)


def vlnce_episode_from_dict(rec: Any, where: str, role: str | None = None) -> VlnceEpisode:
    """Validate one VLN-CE record; :class:`VlnceError` names the episode and the first bad field."""
    if not isinstance(rec, dict):
        raise VlnceError(f"{where}: must be an object, got {type(rec).__name__}")
    eid = rec.get("episode_id")
    if isinstance(eid, bool) or not isinstance(eid, (str, int)) or str(eid) == "":
        raise VlnceError(f"{where}.episode_id: must be a string or integer, got {eid!r}")
    where = f"{where} (episode_id {eid})"
    scene = rec.get("scene_id")
    if not isinstance(scene, str) or not scene:
        raise VlnceError(f"{where}.scene_id: must be a non-empty string, got {scene!r}")
    start = _vec(rec.get("start_position"), 3, f"{where}.start_position")
    rot = _vec(rec.get("start_rotation"), 4, f"{where}.start_rotation")
    norm = float(np.linalg.norm(rot))
    if abs(norm - 1.0) > 1e-2:
        raise VlnceError(f"{where}.start_rotation: must be a unit quaternion [x, y, z, w], norm is {norm:.4f}")
    goals = rec.get("goals")
    if not isinstance(goals, list) or not goals or not isinstance(goals[0], dict):
        raise VlnceError(f"{where}.goals: must be a non-empty list of {{position, radius}}")
    goal = _vec(goals[0].get("position"), 3, f"{where}.goals[0].position")
    radius = goals[0].get("radius")
    if radius is not None and (isinstance(radius, bool) or not isinstance(radius, (int, float))
                               or not math.isfinite(radius) or radius < 0):
        raise VlnceError(f"{where}.goals[0].radius: must be a number >= 0 or null, got {radius!r}")
    info = rec.get("info")
    geo = None
    if info is not None:
        if not isinstance(info, dict):
            raise VlnceError(f"{where}.info: must be an object, got {type(info).__name__}")
        g = info.get("geodesic_distance")
        if g is not None:
            if isinstance(g, bool) or not isinstance(g, (int, float)) or not math.isfinite(g) or g < 0:
                raise VlnceError(f"{where}.info.geodesic_distance: must be a finite number >= 0, got {g!r}")
            geo = float(g)
    ref = rec.get("reference_path")
    ref_arr = None if ref is None else _points(ref, f"{where}.reference_path")
    ins = rec.get("instruction")
    if not isinstance(ins, dict):
        raise VlnceError(f"{where}.instruction: must be an object with instruction_text")
    text = ins.get("instruction_text")
    if not isinstance(text, str) or not text.strip():
        raise VlnceError(f"{where}.instruction.instruction_text: must be a non-empty string, got {text!r}"[:300])
    lang = ins.get("language")
    if lang is not None and not isinstance(lang, str):
        raise VlnceError(f"{where}.instruction.language: must be a string, got {lang!r}")
    known = {"episode_id", "scene_id", "start_position", "start_rotation", "goals", "info", "reference_path",
             "instruction", "trajectory_id"}
    return VlnceEpisode(
        episode_id=str(eid), scene_id=scene, start_position=start, start_rotation=rot / norm, goal_position=goal,
        instruction=text, trajectory_id=_opt_str(rec, "trajectory_id", where),
        goal_radius=None if radius is None else float(radius), geodesic_distance=geo, reference_path=ref_arr,
        language=lang, instruction_id=_opt_str(ins, "instruction_id", f"{where}.instruction"), role=role,
        extra={k: v for k, v in rec.items() if k not in known},
    )


def load_ground_truth(path: str | Path) -> dict[str, GroundTruth]:
    """Read a ``{split}_gt.json(.gz)`` file; :class:`VlnceError` names the episode and field."""
    p = Path(path)
    data = read_json(p)
    if not isinstance(data, dict):
        raise VlnceError(f"{p}: must map episode ids to {{locations, actions, forward_steps}}")
    out: dict[str, GroundTruth] = {}
    for eid, rec in data.items():
        where = f"{p}: episode {eid}"
        if not isinstance(rec, dict):
            raise VlnceError(f"{where}: must be an object with locations")
        locs = _points(rec.get("locations"), f"{where}.locations")
        actions = rec.get("actions", [])
        if not isinstance(actions, list) or not all(isinstance(a, int) and not isinstance(a, bool) for a in actions):
            raise VlnceError(f"{where}.actions: must be a list of integers")
        steps = rec.get("forward_steps")
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 0):
            raise VlnceError(f"{where}.forward_steps: must be an integer >= 0, got {steps!r}")
        out[str(eid)] = GroundTruth(locs, tuple(actions), steps)
    return out


@dataclass(frozen=True)
class VlnceDataset:
    """A VLN-CE episode file, its ground truth (if any) and its vocabulary size."""

    path: Path
    episodes: list[VlnceEpisode]
    gt_path: Path | None = None
    vocab_size: int | None = None
    role: str | None = None


def load_vlnce_episodes(path: str | Path, gt: str | Path | None = None, *, find_gt: bool = True) -> VlnceDataset:
    """Read a VLN-CE episode file (and its ground truth: ``gt``, or the ``_gt`` file beside it).

    Every record is validated; :class:`VlnceError` names the file, the episode and the field.
    """
    p = Path(path)
    data = read_json(p)
    if not isinstance(data, dict) or not isinstance(data.get("episodes"), list):
        raise VlnceError(f"{p}: episodes: must be a list (is this a VLN-CE episode file?)")
    role = role_of(p)
    eps = [vlnce_episode_from_dict(r, f"{p}: episodes[{i}]", role) for i, r in enumerate(data["episodes"])]
    ids = [e.episode_id for e in eps]
    dup = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []
    if dup:
        raise VlnceError(f"{p}: episode_id: duplicated {dup[:5]}")
    vocab = data.get("instruction_vocab")
    vocab_size = None
    if vocab is not None:
        words = vocab.get("word_list") if isinstance(vocab, dict) else None
        if not isinstance(words, list):
            raise VlnceError(f"{p}: instruction_vocab.word_list: must be a list of words")
        vocab_size = len(words)
    gt_path = Path(gt) if gt is not None else (default_gt_path(p) if find_gt else None)
    if gt_path is not None:
        table = load_ground_truth(gt_path)
        eps = [replace(e, gt=table.get(e.episode_id)) for e in eps]
    return VlnceDataset(p, eps, gt_path, vocab_size, role)
