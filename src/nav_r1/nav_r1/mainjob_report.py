"""The main job's report: metrics per episode and aggregated, pictures, control-loop statistics."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from r1_core.nav.metrics import EpisodeMetrics, aggregate, evaluate_episode
from r1_sim.navmap import NavMap
from r1_sim.report import top_down_plot


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
                     monitor: dict[str, Any], *, wall_time_s: float, options: Any) -> str:
    """Write report.json, report.md and one top-down picture per episode; return a short summary."""
    by_id = {r["episode_id"]: r for r in results}
    navmap = NavMap(scene)

    def geodesic(a: Any, b: Any) -> float:
        return float(navmap.geodesic_distance(a[:2], b[:2]))

    rows: list[dict[str, Any]] = []
    metrics: list[EpisodeMetrics] = []
    pictures = folder / "pictures"
    pictures.mkdir(exist_ok=True)
    for ep in episodes:
        res = by_id[ep.episode_id]
        m = episode_metrics(ep, res, geodesic)
        metrics.append(m)
        png = pictures / f"{ep.episode_id}.png"
        traj = np.asarray(res["trajectory"], dtype=np.float64)
        top_down_plot(scene, navmap, np.asarray(ep.reference_path)[:, :2], traj[:, 1:3], png,
                      title=f"{ep.episode_id}: {'success' if m.success else 'failure'}, NE {m.ne:.2f} m",
                      goal=tuple(ep.goal_xy), success_radius=ep.success_radius)
        rows.append({**m.__dict__, "instruction": ep.instruction, "wall_time_s": res["wall_time_s"],
                     "sync_deadline_misses": res["sync_deadline_misses"],
                     "reasoner_failures": res["reasoner_failures"], "picture": str(png.relative_to(folder))})
    agg = aggregate(metrics)
    sim_time = float(sum(r["sim_time_s"] for r in results))
    loop = control_loop_summary(monitor.get("control_stats", []))
    run = {
        "robot": options.robot, "reasoner": options.reasoner, "seed": options.seed,
        "episodes": len(episodes), "scene": scene.name, "lock_step": options.sync,
        "wall_time_s": round(wall_time_s, 2), "sim_time_s": round(sim_time, 2),
        "real_time_factor": round(sim_time / wall_time_s, 3) if wall_time_s > 0 else None,
        "image_size": [options.width, options.height],
        "metric_notes": "SR: stopped within success_radius (geodesic on the nav map); nDTW with d_th = "
                        "success_radius; our rooms are smaller than VLN-CE's, so the radius is 1 m, not 3 m.",
    }
    report = {"run": run, "aggregate": agg, "episodes": rows, "control_loop": loop, "bag": monitor.get("bag", {})}
    (folder / "report.json").write_text(json.dumps(report, indent=2, default=_fmt))
    (folder / "report.md").write_text(_markdown(report, options, wall_time_s, sim_time))
    return (f"SR {agg.get('success', float('nan')):.2f}  SPL {agg.get('spl', float('nan')):.3f}  "
            f"NE {agg.get('ne', float('nan')):.2f} m  nDTW {agg.get('ndtw', float('nan')):.3f}  "
            f"over {len(episodes)} episodes, real-time factor {run['real_time_factor']}")


def _markdown(report: dict[str, Any], options: Any, wall_time_s: float, sim_time: float) -> str:
    """report.md: the run, the aggregate, one row per episode and the control-loop statistics."""
    run, agg, rows, loop = report["run"], report["aggregate"], report["episodes"], report["control_loop"]
    lines = [
        f"# Simulated navigation run: {options.robot}, {run['episodes']} episode(s)",
        "",
        f"Scene `{run['scene']}`, seed {options.seed}, reasoner `{options.reasoner}`, "
        f"{'lock-step' if options.sync else 'free-running'}; wall {wall_time_s:.1f} s for {sim_time:.1f} s "
        f"simulated (real-time factor {run['real_time_factor']}).",
        "",
        "## Aggregate",
        "",
        "| metric | value |",
        "|---|---|",
        *[f"| {k} | {_fmt(v)} |" for k, v in agg.items()],
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
