"""The data engine: the privileged sim expert over seeded scenes, recorded as Nav-CoT rows.

Each step is taken exactly as the reasoning node takes it (:func:`nav_r1.sim_loop.drive_episode`:
camera frames go into the node's own :class:`~nav_r1.reasoning.ReasoningCore`, which builds the
:class:`~r1_core.reasoner.Observation`); the expert (:class:`r1_sim.expert.ExpertReasoner`,
planning on the true map from the true pose) answers it, and the robot executes the parsed
actions in the MuJoCo simulator with the in-process controller of :mod:`r1_sim.rollout`.  The row stores the
observation's images, the reply as ``target`` and the pose, goal and paths the rewards need.

The chain-of-thought in ``target`` is the expert's templated text: it states facts the expert
knows from the map (the room, the goal's room and path distance, a nearby object, the bearing of
the next waypoint) and the action chosen.  It is honest about what the expert knew, but it is not
free-form reasoning, and it mentions map knowledge a camera-only model has to infer.

The folder is written under a temporary name beside ``out`` and renamed when complete, so an
interrupted run never leaves a folder that looks like a dataset.
"""

from __future__ import annotations

import collections
import json
import math
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from nav_r1.data.rows import SPLITS, NavCotRow, hf_card_header
from nav_r1.plan import actions_to_poses
from nav_r1.reasoning import ReasoningConfig
from nav_r1.sim_loop import LoopConfig, Step, drive_episode
from r1_core.nav.parse import parse_response
from r1_core.params import ParamError, param, validate_params
from r1_core.paths import swap_in
from r1_core.reasoner import Frame, Observation
from r1_sim.episodes import Episode, generate_episodes, load_episodes
from r1_sim.expert import ExpertReasoner
from r1_sim.navmap import NavMap
from r1_sim.robots import SIM_ROBOTS, robot_profile
from r1_sim.scene import Scene, generate_scene
from r1_sim.world import SimConfig, Simulator

_NODE = ReasoningConfig()


@dataclass(frozen=True)
class DataConfig:
    """How ``nav-r1 data`` builds a dataset."""

    robot: str = param("dog", "Simulated robot", choices=tuple(SIM_ROBOTS))
    episodes: int = param(40, "Episodes to record (procedural scenes)", min=1, max=100_000)
    seed: int = param(0, "Seed of the first scene; scene k uses seed + k", min=0)
    episodes_per_scene: int = param(4, "Episodes generated in each procedural scene", min=1, max=100)
    rooms: int = param(3, "Rooms per procedural scene", min=2, max=7)
    min_length_m: float = param(3.0, "Shortest episode (geodesic) [m]", min=0.5)
    max_length_m: float = param(8.0, "Longest episode (geodesic) [m]", min=1.0)
    width: int = param(320, "Camera image width [px] (the sim bridge's default)", min=16, max=1920)
    height: int = param(240, "Camera image height [px]", min=16, max=1080)
    camera_hz: float = param(10.0, "Camera rate fed to the reasoning core [Hz] (the bridge's rate)", min=0.5)
    # The node's ReasoningConfig defaults: rows are what the node would send with its defaults.
    history_size: int = param(_NODE.history_size, "History frames per prompt (node: history_size)", min=0, max=16)
    history_stride_s: float = param(_NODE.history_stride_s, "Minimum time between history frames [s]", min=0.0)
    # The node's prompt asks for one action per reply (NavPrompt's default).
    max_actions: int = param(1, "Actions per expert reply (what the prompt asks for)", min=1, max=8)
    max_replies: int = param(200, "Most replies per episode", min=1)
    # brief keeps only the expert's decision sentence (small models and CPU benchmarks generate less).
    cot: str = param("full", "Chain-of-thought in targets: full expert text or brief (decision only)",
                     choices=("full", "brief"))
    val_fraction: float = param(0.1, "Share of scenes held out for validation", min=0.0, max=0.5)
    test_fraction: float = param(0.1, "Share of scenes held out for test", min=0.0, max=0.5)

    def __post_init__(self) -> None:
        validate_params(self)
        if self.min_length_m >= self.max_length_m:
            raise ParamError(f"parameter 'min_length_m' = {self.min_length_m} must be below 'max_length_m'")


@dataclass
class EpisodeRecord:
    """What one recorded episode produced."""

    episode_id: str
    scene: str
    rows: list[NavCotRow] = field(default_factory=list)
    final_distance_m: float = math.inf
    stopped: bool = False
    failures: int = 0


RowHook = Callable[[NavCotRow, Observation], None]


_SENTENCE_END = re.compile(r"(?<=\.)\s+")
_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)


def brief_cot(text: str) -> str:
    """The reply with only the last sentence of its think block (the expert's decision and why)."""
    m = _THINK.search(text)
    if m is None:
        return text
    last = _SENTENCE_END.split(m.group(1).strip())[-1]
    return text[: m.start(1)] + last + text[m.end(1):]


def _save_png(rgb: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, format="PNG", compress_level=1)


def record_episode(
    sim: Simulator, scene: Scene, navmap: NavMap, episode: Episode, cfg: DataConfig, root: Path,
    on_row: RowHook | None = None,
) -> EpisodeRecord:
    """Run the expert through one episode as the node would, writing images under ``root/images``."""
    expert = ExpertReasoner(scene, navmap, episode, actions_per_reply=cfg.max_actions)
    loop = LoopConfig(history_size=cfg.history_size, history_stride_s=cfg.history_stride_s,
                      camera_hz=cfg.camera_hz, max_replies=cfg.max_replies, max_time_s=math.inf)
    paths: dict[float, str] = {}  # frame stamp -> image path (stamps rise within an episode)

    def image_path(frame: Frame) -> str:
        if frame.stamp not in paths:
            rel = f"images/{episode.episode_id}/{round(frame.stamp * 1000):08d}.png"
            _save_png(frame.rgb, root / rel)
            paths[frame.stamp] = rel
        return paths[frame.stamp]

    rec = EpisodeRecord(episode.episode_id, episode.scene)
    reference = np.asarray(episode.reference_path, dtype=np.float64)[:, :2]

    def on_step(step: Step) -> None:
        if step.parsed is None:
            rec.failures += 1  # the expert fails only where it cannot plan: no row
            return
        obs, pose = step.observation, step.pose
        poses = actions_to_poses(pose, step.parsed.actions)
        expert_path = np.array([(p.x, p.y) for p in poses] or [(pose.x, pose.y)], dtype=np.float64)
        row = NavCotRow(
            id=f"{episode.episode_id}-{step.index:04d}", instruction=obs.instruction,
            history_images=tuple(image_path(f) for f in (*obs.history, obs.frame)),
            action_space=expert.action_space, episode_id=episode.episode_id,
            target=brief_cot(step.response.text) if cfg.cot == "brief" else step.response.text,
            scene=episode.scene, robot=episode.robot, step=step.index, pose=pose,
            goal=(float(episode.goal_xy[0]), float(episode.goal_xy[1])), reference_path=reference,
            expert_path=expert_path, history_size=cfg.history_size, max_actions=cfg.max_actions,
        )
        rec.rows.append(row)
        if on_row is not None:
            on_row(row, obs)

    result = drive_episode(sim, episode, expert, loop, on_step)
    rec.stopped = result.stopped
    rec.final_distance_m = result.final_distance(episode.goal_xy)
    return rec


def procedural_episodes(cfg: DataConfig) -> list[tuple[Scene, list[Episode]]]:
    """``cfg.episodes`` episodes over seeded procedural scenes, ``episodes_per_scene`` in each."""
    out: list[tuple[Scene, list[Episode]]] = []
    remaining, k = cfg.episodes, 0
    while remaining > 0:
        scene = generate_scene(cfg.seed + k, cfg.rooms)
        n = min(cfg.episodes_per_scene, remaining)
        episodes = generate_episodes(scene, n, cfg.seed + k, cfg.robot, min_length=cfg.min_length_m,
                                     max_length=cfg.max_length_m)
        out.append((scene, episodes))
        remaining -= n
        k += 1
    return out


def file_episodes(path: Path, robot: str) -> list[tuple[Scene, list[Episode]]]:
    """Episodes of an episode file, grouped by scene; all must be for ``robot``."""
    episodes = load_episodes(path)
    if not episodes:
        raise ParamError(f"episode file '{path}' holds no episodes")
    other = [e.episode_id for e in episodes if e.robot != robot]
    if other:
        raise ParamError(f"episodes {other[:3]} in '{path}' are for another robot than '{robot}'")
    groups: dict[str, list[Episode]] = collections.defaultdict(list)
    for e in episodes:
        groups[e.scene].append(e)
    return [(eps[0].scene_obj(Path(path).parent), eps) for eps in groups.values()]


def assign_splits(scenes: Sequence[str], cfg: DataConfig) -> dict[str, str]:
    """Scene -> split; whole scenes go to one split (seeded shuffle; train keeps at least one scene)."""
    order = list(scenes)
    np.random.default_rng(cfg.seed).shuffle(order)
    n = len(order)
    n_test = min(max(1, round(n * cfg.test_fraction)) if cfg.test_fraction > 0 and n >= 3 else 0, n - 1)
    n_val = min(max(1, round(n * cfg.val_fraction)) if cfg.val_fraction > 0 and n >= 3 else 0, n - 1 - n_test)
    split = {s: "test" for s in order[:n_test]}
    split.update({s: "val" for s in order[n_test:n_test + n_val]})
    split.update({s: "train" for s in order[n_test + n_val:]})
    return split


def _action_histogram(rows: Sequence[NavCotRow]) -> dict[str, int]:
    hist: collections.Counter[str] = collections.Counter()
    for row in rows:
        parsed = parse_response(row.target)
        hist.update(a.to_text() for a in parsed.actions)
    return dict(sorted(hist.items(), key=lambda kv: -kv[1]))


def dataset_card(cfg: DataConfig, records: Sequence[EpisodeRecord], splits: dict[str, str],
                 command: str, source: str, seconds: float) -> str:
    """The README.md of a dataset folder: HF config header, counts, action histogram, provenance."""
    by_split = {s: [r for r in records if splits[r.scene] == s] for s in SPLITS}
    present = [s for s in SPLITS if any(r.rows for r in by_split[s])]
    lines = [*hf_card_header(present), "", "# Nav-CoT data from the R1 stack's simulator", "",
             f"Made by `{command}` in {seconds:.0f} s ({source}).", "",
             "| split | scenes | episodes | rows | expert stopped | mean final distance to goal [m] |",
             "|---|---|---|---|---|---|"]
    for s in SPLITS:
        recs = by_split[s]
        scenes = {r.scene for r in recs}
        stopped = sum(r.stopped for r in recs)
        dist = f"{np.mean([r.final_distance_m for r in recs]):.2f}" if recs else "-"
        lines.append(f"| {s} | {len(scenes)} | {len(recs)} | {sum(len(r.rows) for r in recs)} | "
                     f"{stopped}/{len(recs)} | {dist} |")
    all_rows = [row for r in records for row in r.rows]
    lines += ["", "## Actions in the targets", "", "| action | count | share |", "|---|---|---|"]
    hist = _action_histogram(all_rows)
    total = max(1, sum(hist.values()))
    lines += [f"| {a} | {n} | {n / total:.1%} |" for a, n in hist.items()]
    lines += [
        "", "## How it was made", "",
        "The privileged simulator expert (`r1_sim.expert.ExpertReasoner`) plans on the scene's true map "
        "from the true pose and answers each step in Nav-R1's format. Each step is taken as the reasoning "
        "node takes it: frames enter the node's `ReasoningCore` at the camera rate, the core builds the "
        "observation (history frames at least `history_stride_s` apart), and the prompt is the node's "
        "`NavPrompt` — `nav_r1.data.rows.row_prompt(row, folder)` rebuilds it from a row. The robot "
        "executes the parsed actions in the MuJoCo simulator (the rollout's `PController`).",
        "",
        "**The chain-of-thought is templated**, generated from the expert's knowledge: the room it is in, "
        "the goal's room and path distance, a nearby object and the bearing of the next waypoint, then the "
        "action chosen. It is not free-form model reasoning, and it mentions map facts a camera-only model "
        "has to infer from the images. With `cot=brief` only the last sentence (the decision and its "
        "reason) is kept.",
        "",
        "Splits are by scene: no scene appears in two splits.",
        "",
        "## Fields", "",
        "Nav-CoT-110K's released fields `instruction`, `history_images` (history views oldest first, then "
        "the current view; paths relative to this folder), `action_space`, `target`; plus `id`, "
        "`episode_id`, `scene`, `robot`, `step`, `pose` {x, y, yaw, z} (odometry frame), `goal` [x, y], "
        "`reference_path` (the episode's shortest path, [[x, y], ...]), `expert_path` (the target's actions "
        "executed from `pose`), `history_size` and `max_actions` (the prompt's settings).",
        "",
        "## Settings", "", "```json", json.dumps(asdict(cfg), indent=2), "```", "",
    ]
    return "\n".join(lines)


def build_dataset(
    out: Path, cfg: DataConfig, *, episodes_file: Path | None = None, force: bool = False,
    on_row: RowHook | None = None, progress: bool = True, command: str = "nav-r1 data",
) -> dict[str, int]:
    """Record the episodes, write ``out/{train,val,test}.jsonl``, images and README.md; rows per split."""
    out = Path(out)
    if out.exists() and not force:
        raise ParamError(f"output folder '{out}' exists; choose another --out or pass --force")
    t0 = time.perf_counter()
    groups = file_episodes(episodes_file, cfg.robot) if episodes_file else procedural_episodes(cfg)
    source = f"episodes from {episodes_file}" if episodes_file else (
        f"procedural scenes seeded {cfg.seed}..{cfg.seed + len(groups) - 1}")
    splits = assign_splits([scene.name for scene, _ in groups], cfg)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    records: list[EpisodeRecord] = []
    files = {s: (tmp / f"{s}.jsonl").open("w", encoding="utf-8") for s in SPLITS}
    counts = dict.fromkeys(SPLITS, 0)
    sim_cfg = SimConfig(width=cfg.width, height=cfg.height)
    total = sum(len(eps) for _, eps in groups)
    bar = tqdm(total=total, desc="nav-r1 data", unit="episode", disable=not progress, file=sys.stderr)
    try:
        for scene, episodes in groups:
            navmap = NavMap(scene, robot_profile(cfg.robot).radius)
            sim = Simulator(cfg.robot, scene, sim_cfg)
            try:
                for episode in episodes:
                    rec = record_episode(sim, scene, navmap, episode, cfg, tmp, on_row)
                    records.append(rec)
                    split = splits[scene.name]
                    for row in rec.rows:
                        files[split].write(json.dumps(row.to_json(), ensure_ascii=False) + "\n")
                    counts[split] += len(rec.rows)
                    bar.update(1)
                    bar.set_postfix(rows=sum(counts.values()))
            finally:
                sim.close()
        for f in files.values():
            f.close()
        for s in SPLITS:
            if counts[s] == 0:
                (tmp / f"{s}.jsonl").unlink()
        (tmp / "README.md").write_text(dataset_card(cfg, records, splits, command, source,
                                                    time.perf_counter() - t0), encoding="utf-8")
        swap_in(tmp, out)  # --force: the new folder in, then the old one dropped
    except BaseException:
        for f in files.values():
            f.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        bar.close()
    return counts
