"""Either episode format (ours or VLN-CE's) as scoring targets, and a summary of an episode file.

A :class:`BenchmarkEpisode` holds what VLN-CE's measures need, in the episode file's own frame
(habitat's y-up frame for VLN-CE files, REP-103 for ours): the 3-D goal, the reference the nDTW is
measured against and the start-goal geodesic distance of SPL.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from r1_sim.episodes import SCHEMA, EpisodeError, episode_from_dict
from r1_sim.vlnce import VlnceError, is_vlnce_data, load_vlnce_episodes, read_json

#: VLN-CE's forward step [m]; our sparse reference paths are resampled at it to stand in for the
#: ground-truth locations (one per step of VLN-CE's shortest-path follower).
VLNCE_FORWARD_STEP = 0.25


@dataclass(frozen=True)
class BenchmarkEpisode:
    """One episode as the VLN-CE measures see it (file frame, metres)."""

    episode_id: str
    scene: str
    instruction: str
    goal: NDArray[np.float64]  # (3,)
    reference: NDArray[np.float64]  # (M, 3): what nDTW compares against
    reference_kind: str  # "gt_locations" | "reference_path" | "reference_path_resampled"
    geodesic_distance: float  # SPL's l
    language: str | None = None


@dataclass(frozen=True)
class BenchmarkEpisodes:
    """The episodes of a file, its format and frame, and where the references came from."""

    path: Path
    format: str  # "vlnce" | "r1_sim"
    frame: str  # "habitat (y up)" | "REP-103 (z up)"
    episodes: list[BenchmarkEpisode]
    gt_path: Path | None = None
    role: str | None = None
    vocab_size: int | None = None


def resample(points: NDArray[np.float64], step: float = VLNCE_FORWARD_STEP) -> NDArray[np.float64]:
    """Points every ``step`` metres along a polyline, both ends kept."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] == 0:
        return points[:1].copy()
    ts = np.append(np.arange(0.0, s[-1], step), s[-1])
    return np.stack([np.interp(ts, s, points[:, k]) for k in range(points.shape[1])], axis=1)


def load_benchmark_episodes(path: str | Path, gt: str | Path | None = None) -> BenchmarkEpisodes:
    """Read either format; :class:`EpisodeError` (or :class:`VlnceError`) names the episode and field."""
    p = Path(path)
    data = read_json(p)
    if isinstance(data, dict) and data.get("schema") == SCHEMA:
        if gt is not None:
            raise EpisodeError(f"{gt}: --gt is for VLN-CE files; {p} is in our own format "
                               "(its reference_path is the reference)")
        recs = data.get("episodes")
        if not isinstance(recs, list):
            raise EpisodeError(f"{p}: episodes: must be a list")
        out = []
        for i, r in enumerate(recs):
            e = episode_from_dict(r, f"{p}: episodes[{i}]")
            ref = np.asarray(e.reference_path, dtype=np.float64)
            goal_z = e.goal_z if e.goal_z is not None else float(ref[-1, 2])
            out.append(BenchmarkEpisode(e.episode_id, e.scene, e.instruction,
                                        np.array([*e.goal_xy, goal_z]), resample(ref), "reference_path_resampled",
                                        float(e.shortest_length) or float(np.linalg.norm(np.diff(ref, axis=0),
                                                                                         axis=1).sum())))
        ids = [e.episode_id for e in out]
        if len(set(ids)) != len(ids):
            raise EpisodeError(f"{p}: episode_id: duplicated {sorted({i for i in ids if ids.count(i) > 1})[:5]}")
        return BenchmarkEpisodes(p, "r1_sim", "REP-103 (z up)", out)
    if not is_vlnce_data(data):
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise EpisodeError(f"{p}: neither our episode format (schema {SCHEMA!r}) nor a VLN-CE episode file "
                           f"(episodes with start_rotation); found {found!r}")
    ds = load_vlnce_episodes(p, gt)
    eps = []
    for v in ds.episodes:
        if v.gt is not None:
            ref, kind = v.gt.locations, "gt_locations"
        elif v.reference_path is not None:
            ref, kind = v.reference_path, "reference_path"
        else:
            ref, kind = np.stack([v.start_position, v.goal_position]), "start_goal"
        geo = v.geodesic_distance
        if geo is None:
            raise VlnceError(f"{p}: episode {v.episode_id}.info.geodesic_distance: missing (SPL's shortest length)")
        eps.append(BenchmarkEpisode(v.episode_id, v.scene_id, v.instruction, v.goal_position, ref, kind, geo,
                                    v.language))
    return BenchmarkEpisodes(p, "vlnce", "habitat (y up)", eps, ds.gt_path, ds.role, ds.vocab_size)


def summarize(path: str | Path, gt: str | Path | None = None) -> dict[str, Any]:
    """Count, scenes, languages, mean geodesic distance and instruction lengths of an episode file."""
    b = load_benchmark_episodes(path, gt)
    eps = b.episodes
    words = [len(e.instruction.split()) for e in eps]
    scenes = Counter(Path(e.scene).stem if e.scene.endswith((".glb", ".json")) else e.scene for e in eps)
    langs = Counter(e.language or "unknown" for e in eps)
    refs = Counter(e.reference_kind for e in eps)
    geo = [e.geodesic_distance for e in eps]
    return {
        "file": str(b.path), "format": b.format, "frame": b.frame, "episodes": len(eps),
        "scenes": len(scenes), "top_scenes": scenes.most_common(5), "languages": dict(sorted(langs.items())),
        "role": b.role, "gt_file": str(b.gt_path) if b.gt_path else None, "references": dict(refs),
        "vocab_size": b.vocab_size,
        "geodesic_distance_mean": statistics.fmean(geo) if geo else None,
        "geodesic_distance_range": [min(geo), max(geo)] if geo else None,
        "instruction_words_mean": statistics.fmean(words) if words else None,
        "instruction_words_range": [min(words), max(words)] if words else None,
    }


def format_summary(s: dict[str, Any]) -> str:
    """The summary as a few readable lines."""
    def num(v: Any, unit: str = "") -> str:
        return "-" if v is None else f"{v:.2f}{unit}"

    rng = s["geodesic_distance_range"] or [None, None]
    wrng = s["instruction_words_range"] or [None, None]
    lines = [
        f"{s['file']}: {s['format']} episodes, frame {s['frame']}" + (f", role {s['role']}" if s["role"] else ""),
        f"  episodes            {s['episodes']}",
        f"  scenes              {s['scenes']} (most episodes: "
        + ", ".join(f"{k} {n}" for k, n in s["top_scenes"]) + ")",
        "  languages           " + ", ".join(f"{k} {n}" for k, n in s["languages"].items()),
        f"  geodesic distance   mean {num(s['geodesic_distance_mean'], ' m')} "
        f"(min {num(rng[0])}, max {num(rng[1])})",
        f"  instruction words   mean {num(s['instruction_words_mean'])} (min {wrng[0]}, max {wrng[1]})",
        "  nDTW reference      " + ", ".join(f"{k} {n}" for k, n in s["references"].items())
        + (f" (ground truth {s['gt_file']})" if s["gt_file"] else ""),
    ]
    if s["vocab_size"] is not None:
        lines.append(f"  instruction vocab   {s['vocab_size']} words")
    return "\n".join(lines)
