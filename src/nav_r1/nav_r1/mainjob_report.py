"""The main job's report: metrics per episode and aggregated, pictures, control-loop statistics."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from r1_core.nav.metrics import EpisodeMetrics, aggregate, evaluate_episode
from r1_core.nav.vlnce_metrics import (
    METRIC_NAMES,
    VLNCE_SUCCESS_DISTANCE,
    Distance3D,
    VlnceMetrics,
    aggregate_vlnce,
    euclidean3,
    vlnce_episode_metrics,
)
from r1_sim.benchmark_episodes import resample
from r1_sim.habitat_backend import navmesh_geodesic
from r1_sim.habitat_frame import world_to_habitat_points
from r1_sim.navmap import NavMap
from r1_sim.report import top_down_plot, vlnce_table

#: Why the privileged expert's numbers are not a model's.
EXPERT_LABEL = "privileged expert: plans on the true map of the scene (an upper bound, not a model result)"
VLNCE_NOTE = (f"VLN-CE standard: success = stopped and distance < {VLNCE_SUCCESS_DISTANCE} m, oracle success "
              f"< {VLNCE_SUCCESS_DISTANCE} m, nDTW/SDTW with d_th = {VLNCE_SUCCESS_DISTANCE} m, 3-D positions")


def reasoner_label(spec: str) -> str:
    """The reasoner a report names: the backend spec, and for the expert that it is an upper bound."""
    kind = spec.partition(":")[0].strip()
    return f"{spec} ({EXPERT_LABEL})" if kind == "expert" else spec


def vlnce_standard_metrics(episode: Any, result: dict[str, Any], distance: Distance3D,
                           base_height: float = 0.0, goal_z: float | None = None,
                           resample_reference: bool = True) -> VlnceMetrics:
    """VLN-CE's measures of one main-job episode (3-D; for nDTW the trajectory, sampled at the control
    rate, and the reference are resampled at VLN-CE's 0.25 m step: a VLN-CE agent records one position
    per action).

    ``base_height`` is subtracted from every height (base_link back to the agent's floor point, as
    VLN-CE's positions are); ``goal_z`` defaults to the reference path's last height.  A reference
    that is already VLN-CE's ground-truth locations (one per action) is used as it is
    (``resample_reference=False``).
    """
    traj = np.asarray(result["trajectory"], dtype=np.float64)  # rows: t, x, y, z, yaw
    lift = np.array([0.0, 0.0, base_height])
    positions = traj[:, 1:4] - lift
    ref = np.asarray(episode.reference_path, dtype=np.float64) - lift
    gz = float(ref[-1, 2]) if goal_z is None else goal_z
    goal = np.array([*episode.goal_xy, episode.goal_z - base_height if episode.goal_z is not None else gz])
    return vlnce_episode_metrics(episode.episode_id, positions, bool(result["called_stop"]), goal,
                                 resample(ref) if resample_reference else ref,
                                 float(episode.shortest_length), distance=distance, steps=int(result["ticks"]),
                                 dtw_positions=resample(positions))


def episode_metrics(episode: Any, result: dict[str, Any], geodesic: Any) -> EpisodeMetrics:
    """Every metric of one episode from the bridge's raw result and the episode's ground truth."""
    traj = np.asarray(result["trajectory"], dtype=np.float64)  # rows: t, x, y, z, yaw
    goal = np.asarray(episode.goal_xy, dtype=np.float64)
    return evaluate_episode(
        episode.episode_id,
        traj[:, 1:3],
        np.asarray(episode.reference_path, dtype=np.float64)[:, :2],
        goal,
        episode.shortest_length,
        bool(result["called_stop"]),
        threshold=episode.success_radius,
        d_th=episode.success_radius,
        geodesic=geodesic,
        collisions=int(result["collisions"]),
        episode_time=float(result["sim_time_s"]),
        steps=int(result["ticks"]),
    )


def control_loop_summary(stats: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Worst and typical figures over the control node's periodic statistics messages."""
    out: dict[str, float] = {"messages": float(len(stats))}
    keys = sorted({k for s in stats for k, v in s.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
    for key in keys:
        values = [float(s[key]) for s in stats if isinstance(s.get(key), (int, float))]
        values = [v for v in values if math.isfinite(v)]
        if not values:
            continue
        out[f"{key}_median"] = float(np.median(values))
        out[f"{key}_max"] = float(np.max(values))
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def write_run_report(folder: Path, scene: Any, episodes: Sequence[Any], results: Sequence[dict[str, Any]],
                     monitor: dict[str, Any], *, wall_time_s: float, options: Any,
                     habitat: dict[str, Any] | None = None) -> str:
    """Write report.json, report.md and one top-down picture per episode; return a short summary.

    With ``habitat`` (a habitat-backend run: no box scene) only VLN-CE's figures are written.
    """
    if habitat:
        return write_habitat_report(folder, episodes, results, monitor, wall_time_s=wall_time_s, options=options,
                                    habitat=habitat)
    rows, metrics, standard = _scored_episodes(folder, scene, episodes, results)
    agg = aggregate(metrics)
    sim_time = float(sum(r["sim_time_s"] for r in results))
    loop = control_loop_summary(monitor.get("control_stats", []))
    run = _run_info(scene, episodes, options, wall_time_s, sim_time)
    vlnce = {"aggregate": aggregate_vlnce(standard), "episodes": [v.to_dict() for v in standard],
             "success_distance_m": VLNCE_SUCCESS_DISTANCE, "distance": "geodesic (nav map) + height"}
    report = {"run": run, "aggregate": agg, "vlnce_standard": vlnce, "episodes": rows, "control_loop": loop,
              "bag": monitor.get("bag", {})}
    (folder / "report.json").write_text(json.dumps(report, indent=2, default=_fmt))
    (folder / "report.md").write_text(_markdown(report, standard, options, wall_time_s, sim_time))
    std = aggregate_vlnce(standard)
    radius_text = ", ".join(f"{r:g}" for r in run["success_radius_m"])
    return (f"[{options.reasoner}] radius {radius_text} m: SR {agg.get('success', float('nan')):.2f}  "
            f"SPL {agg.get('spl', float('nan')):.3f}  "
            f"NE {agg.get('ne', float('nan')):.2f} m  nDTW {agg.get('ndtw', float('nan')):.3f}  "
            f"| VLN-CE 3 m: SR {std.get('success', float('nan')):.2f}  SPL {std.get('spl', float('nan')):.3f}  "
            f"over {len(episodes)} episodes, real-time factor {run['real_time_factor']}")


def _scored_episodes(folder: Path, scene: Any, episodes: Sequence[Any], results: Sequence[dict[str, Any]],
                     ) -> tuple[list[dict[str, Any]], list[EpisodeMetrics], list[VlnceMetrics]]:
    """Per episode: its report row (with a top-down picture under ``folder/pictures``), metrics and VLN-CE's."""
    by_id = {r["episode_id"]: r for r in results}
    navmap = NavMap(scene)

    def geodesic(a: Any, b: Any) -> float:
        return float(navmap.geodesic_distance(a[:2], b[:2]))

    def geodesic3(a: Any, b: Any) -> float:  # on the nav map in x-y, with the height difference
        return float(np.hypot(navmap.geodesic_distance(a[:2], b[:2]), float(a[2]) - float(b[2])))

    rows: list[dict[str, Any]] = []
    metrics: list[EpisodeMetrics] = []
    standard: list[VlnceMetrics] = []
    pictures = folder / "pictures"
    pictures.mkdir(exist_ok=True)
    for ep in episodes:
        res = by_id[ep.episode_id]
        m = episode_metrics(ep, res, geodesic)
        metrics.append(m)
        standard.append(vlnce_standard_metrics(ep, res, geodesic3))
        png = pictures / f"{ep.episode_id}.png"
        traj = np.asarray(res["trajectory"], dtype=np.float64)
        top_down_plot(scene, navmap, np.asarray(ep.reference_path)[:, :2], traj[:, 1:3], png,
                      title=f"{ep.episode_id}: {'success' if m.success else 'failure'}, NE {m.ne:.2f} m",
                      goal=tuple(ep.goal_xy), success_radius=ep.success_radius)
        rows.append({**m.__dict__, "instruction": ep.instruction, "wall_time_s": res["wall_time_s"],
                     "sync_deadline_misses": res["sync_deadline_misses"],
                     "reasoner_failures": res["reasoner_failures"], "picture": str(png.relative_to(folder))})
    return rows, metrics, standard


def _run_info(scene: Any, episodes: Sequence[Any], options: Any, wall_time_s: float,
              sim_time: float) -> dict[str, Any]:
    """The report's ``run`` section: what ran, how long, and how the main figures are measured."""
    radii = sorted({float(ep.success_radius) for ep in episodes})
    radius_text = ", ".join(f"{r:g}" for r in radii)
    return {
        "robot": options.robot, "reasoner": options.reasoner, "reasoner_label": reasoner_label(options.reasoner),
        "seed": options.seed, "success_radius_m": radii, "backend": "mujoco",
        "episodes": len(episodes), "scene": scene.name, "lock_step": options.sync,
        "wall_time_s": round(wall_time_s, 2), "sim_time_s": round(sim_time, 2),
        "real_time_factor": round(sim_time / wall_time_s, 3) if wall_time_s > 0 else None,
        "image_size": [options.width, options.height],
        "metric_notes": f"Main figures: SR = stopped within the episode's success_radius ({radius_text} m, geodesic "
                        f"on the nav map in x-y), nDTW with d_th = success_radius; our rooms are smaller than "
                        f"VLN-CE's. vlnce_standard: {VLNCE_NOTE}, distances geodesic on the nav map in x-y "
                        f"combined with the height difference; for nDTW the trajectory and the reference are "
                        f"resampled every 0.25 m (VLN-CE's forward step); steps = simulator ticks.",
    }


def _markdown(report: dict[str, Any], standard: Sequence[VlnceMetrics], options: Any, wall_time_s: float,
              sim_time: float) -> str:
    """report.md: the run, both aggregates, one row per episode and the control-loop statistics."""
    run, agg, rows, loop = report["run"], report["aggregate"], report["episodes"], report["control_loop"]
    radius_text = ", ".join(f"{r:g}" for r in run["success_radius_m"])
    lines = [
        f"# Simulated navigation run: {options.robot}, {run['episodes']} episode(s)",
        "",
        f"Scene `{run['scene']}`, seed {options.seed}, {'lock-step' if options.sync else 'free-running'}; "
        f"wall {wall_time_s:.1f} s for {sim_time:.1f} s simulated (real-time factor {run['real_time_factor']}).",
        "",
        f"Reasoner: **{run['reasoner_label']}**.",
        "",
        f"## Aggregate (success radius {radius_text} m, nDTW d_th {radius_text} m)",
        "",
        "| metric | value |",
        "|---|---|",
        *[f"| {k} | {_fmt(v)} |" for k, v in agg.items()],
        "",
        f"## VLN-CE standard figures (success < {VLNCE_SUCCESS_DISTANCE:g} m, d_th {VLNCE_SUCCESS_DISTANCE:g} m)",
        "",
        *vlnce_table(standard),
        "",
        "## Episodes",
        "",
        "| episode | SR | OSR | NE [m] | SPL | nDTW | SDTW | path [m] | shortest [m] | collisions | sim time [s] |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *[f"| [{r['episode_id']}]({r['picture']}) | {r['success']:.0f} | {r['oracle_success']:.0f} | {r['ne']:.2f} | "
          f"{r['spl']:.3f} | {r['ndtw']:.3f} | {r['sdtw']:.3f} | {r['path_length']:.2f} | "
          f"{r['shortest_length']:.2f} | {r['collisions']} | {r['episode_time']:.1f} |" for r in rows],
        "",
        "## Control loop",
        "",
        "| statistic | value |",
        "|---|---|",
        *[f"| {k} | {_fmt(v)} |" for k, v in loop.items()],
        "",
        f"Bag: `bag/` ({report['bag']}). Metric notes: {run['metric_notes']}",
        "",
    ]
    return "\n".join(lines)


def write_habitat_report(folder: Path, episodes: Sequence[Any], results: Sequence[dict[str, Any]],
                         monitor: dict[str, Any], *, wall_time_s: float, options: Any,
                         habitat: dict[str, Any]) -> str:
    """A habitat-backend run's report: VLN-CE's figures (geodesic on the scene's navmesh when habitat-sim
    and ``<scene>.navmesh`` are there, else 3-D Euclidean, and the report says which)."""
    by_id = {r["episode_id"]: r for r in results}
    base = float(habitat.get("base_height", 0.0))
    distance: Distance3D = euclidean3
    kind = "3-D Euclidean (no navigation mesh in the evaluating process)"
    navmesh = Path(str(habitat["scene"])).with_suffix(".navmesh")
    if navmesh.is_file():
        try:
            geo = navmesh_geodesic(str(navmesh))

            def on_mesh(a: Any, b: Any) -> float:
                return geo(world_to_habitat_points(a), world_to_habitat_points(b))

            distance, kind = on_mesh, f"geodesic on {navmesh.name}"
        except (ImportError, ValueError):
            pass
    vl = []
    for ep in episodes:
        info = ep.extra.get("vlnce") or {}
        vl.append(vlnce_standard_metrics(ep, by_id[ep.episode_id], distance, base_height=base,
                                         goal_z=info.get("goal_z"),
                                         resample_reference=info.get("reference") != "gt_locations"))
    sim_time = float(sum(r["sim_time_s"] for r in results))
    loop = control_loop_summary(monitor.get("control_stats", []))
    run = {
        "robot": options.robot, "reasoner": options.reasoner, "reasoner_label": reasoner_label(options.reasoner),
        "backend": "habitat", "scene": habitat["scene"], "habitat_settings": habitat["settings"],
        "ground_truth": habitat.get("gt_file"), "episodes": len(episodes), "success_radius_m": [VLNCE_SUCCESS_DISTANCE],
        "distance": kind, "wall_time_s": round(wall_time_s, 2), "sim_time_s": round(sim_time, 2),
        "metric_notes": f"{VLNCE_NOTE}; the reference is the ground-truth locations when the _gt file was found, "
                        f"else reference_path; for nDTW the trajectory is resampled every 0.25 m (one position per "
                        f"VLN-CE forward step); steps = simulator ticks; the robot is velocity-driven, not VLN-CE's "
                        f"discrete agent.",
    }
    agg = aggregate_vlnce(vl)
    rows = [{**v.to_dict(), "instruction": ep.instruction, "collisions": by_id[ep.episode_id]["collisions"]}
            for v, ep in zip(vl, episodes, strict=True)]
    report = {"run": run, "aggregate": agg,
              "vlnce_standard": {"aggregate": agg, "episodes": [v.to_dict() for v in vl]}, "episodes": rows,
              "control_loop": loop, "bag": monitor.get("bag", {})}
    (folder / "report.json").write_text(json.dumps(report, indent=2, default=_fmt))
    lines = [f"# Habitat navigation run: {options.robot}, {len(episodes)} episode(s)", "",
             f"Reasoner: **{run['reasoner_label']}**. Scene `{habitat['scene']}`, VLN-CE settings "
             f"`{habitat['settings']}`; distances: {kind}.", "",
             f"## VLN-CE figures (success < {VLNCE_SUCCESS_DISTANCE:g} m, d_th {VLNCE_SUCCESS_DISTANCE:g} m)", "",
             *vlnce_table(vl), "", "## Episodes", "",
             "| episode | " + " | ".join(METRIC_NAMES) + " |", "|---|" + "---|" * len(METRIC_NAMES),
             *[f"| {v.episode_id} | " + " | ".join(f"{float(getattr(v, k)):.3f}" for k in METRIC_NAMES) + " |"
               for v in vl], "", f"Metric notes: {run['metric_notes']}", ""]
    (folder / "report.md").write_text("\n".join(lines))
    return (f"[{options.reasoner}] VLN-CE 3 m ({kind}): SR {agg.get('success', float('nan')):.2f}  "
            f"SPL {agg.get('spl', float('nan')):.3f}  NE {agg.get('ne', float('nan')):.2f} m  "
            f"nDTW {agg.get('ndtw', float('nan')):.3f} over {len(episodes)} episodes")
