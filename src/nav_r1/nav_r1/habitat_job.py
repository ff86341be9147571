"""``nav-r1 sim --backend habitat``: VLN-CE episodes in a habitat scene, checked and converted before anything starts.

The episodes (VLN-CE's ``.json.gz``/``.json``, or ours naming the scene) are filtered to the scene
given with ``--scene``, converted to our frame by :meth:`r1_sim.vlnce.VlnceEpisode.to_episode`
(heights kept, so the start is on the episode's floor) and written to ``episodes.json`` for the
simulator bridge, which places the robot at each episode's own start pose.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from nav_r1.reasoners import split_spec
from r1_sim.episodes import EpisodeError, episode_from_dict, save_episodes
from r1_sim.habitat_backend import import_habitat
from r1_sim.robots import load_robot_body
from r1_sim.vlnce import is_vlnce_data, load_vlnce_episodes, read_json


class HabitatJobError(RuntimeError):
    """A habitat run cannot start; the message names the option (the main job reports it)."""


def check_habitat_args(robot: str, scene: str, episodes_file: Path | None, reasoner: str) -> None:
    """Reject what cannot run on habitat, naming the option."""
    if not scene:
        raise HabitatJobError("--backend habitat needs --scene PATH: the habitat scene mesh (.glb) to run")
    if not Path(scene).is_file():
        raise HabitatJobError(f"--scene: habitat scene '{scene}' does not exist")
    if episodes_file is None:
        raise HabitatJobError("--backend habitat needs --episodes-file (VLN-CE's {split}.json.gz or ours)")
    if robot == "uav":
        raise HabitatJobError("--robot uav: VLN-CE episodes are for ground agents; use dog or wheeled with habitat")
    if split_spec(reasoner)[0] == "expert":
        raise HabitatJobError("--reasoner expert: the privileged expert plans on our procedural scenes' true map and "
                           "has no map of a habitat scene; use transformers:, openai: or scripted:")


def require_habitat() -> None:
    """Fail before any node starts when habitat-sim is not installed (the install hint is the message)."""
    try:
        import_habitat()
    except ImportError as exc:
        raise HabitatJobError(str(exc)) from exc


def _scene_key(name: str) -> str:
    return Path(name).name.removesuffix(".glb").removesuffix(".basis")


def prepare_habitat_episodes(opts: Any, folder: Path) -> tuple[None, list[Any], dict[str, Any]]:
    """The episodes in ``opts.scene`` (at most ``opts.episodes``), converted and saved to ``folder/episodes.json``.

    Returns ``(None, episodes, habitat)``: there is no box scene; ``habitat`` holds the scene path,
    the settings name and where the ground truth came from (for the report).
    """
    scene = str(Path(opts.scene).resolve())
    key = _scene_key(scene)
    base_height = load_robot_body(opts.robot).ground_clearance
    gt_path = None
    languages: set[str] = set()
    try:
        data = read_json(opts.episodes_file)
        if is_vlnce_data(data):
            ds = load_vlnce_episodes(opts.episodes_file)
            gt_path = ds.gt_path
            chosen = [e for e in ds.episodes if _scene_key(e.scene_id) == key]
            if not chosen:
                scenes = sorted({_scene_key(e.scene_id) for e in ds.episodes})
                raise HabitatJobError(f"--scene: no episode of {opts.episodes_file} is in scene '{key}'; "
                                   f"its scenes: {', '.join(scenes[:10])}")
            chosen = chosen[: opts.episodes]
            languages = {e.language for e in chosen if e.language}
            episodes = [e.to_episode(opts.robot, base_height, scene=scene) for e in chosen]
        else:
            recs = data.get("episodes") if isinstance(data, dict) else None
            if not isinstance(recs, list):
                raise HabitatJobError(f"episode file '{opts.episodes_file}': neither ours nor VLN-CE's")
            episodes = [episode_from_dict(r, f"{opts.episodes_file}: episodes[{i}]") for i, r in enumerate(recs)]
            episodes = [e for e in episodes if _scene_key(e.scene) == key][: opts.episodes]
            if not episodes:
                raise HabitatJobError(f"--scene: no episode of {opts.episodes_file} names scene '{key}'")
            wrong = [e.episode_id for e in episodes if e.robot != opts.robot]
            if wrong:
                raise HabitatJobError(f"episodes {wrong[:3]} are for another robot than '{opts.robot}'")
    except EpisodeError as exc:
        raise HabitatJobError(str(exc)) from exc
    settings = opts.habitat_settings if opts.habitat_settings != "auto" else ("rxr_ce" if languages else "r2r_ce")
    # Our file keeps the scene path: the bridge opens exactly this mesh.
    episodes = [replace(e, scene=scene) for e in episodes]
    save_episodes(folder / "episodes.json", episodes)
    return None, episodes, {"scene": scene, "settings": settings, "base_height": base_height,
                            "gt_file": str(gt_path) if gt_path else None, "languages": sorted(languages)}
