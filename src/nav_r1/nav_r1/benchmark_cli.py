"""``nav-r1 episodes inspect`` and ``nav-r1 evaluate-paths``: VLN-CE episode files and scoring anyone's paths.

    nav-r1 episodes inspect FILE [--gt GT]
    nav-r1 evaluate-paths --episodes FILE [--gt GT] --paths PATHS.json --out DIR [--agent NAME] [--navmesh F]

``PATHS.json`` maps each episode id (a string) to ``{"positions": [[x, y, z], ...], "stopped": bool}``
(optionally ``"steps": n``) in the episode file's own frame.  ``DIR/report.json`` holds ``run``
(what was measured and how), ``episodes`` (id -> metrics), ``aggregate`` (means over the scored
episodes) and ``missing`` (episodes without a path: reported, never silently dropped);
``DIR/report.md`` is the same for people.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from r1_core.nav.vlnce_metrics import (
    METRIC_NAMES,
    VLNCE_SUCCESS_DISTANCE,
    Distance3D,
    PathsError,
    VlnceMetrics,
    aggregate_vlnce,
    parse_paths,
    vlnce_episode_metrics,
)
from r1_sim.benchmark_episodes import BenchmarkEpisodes, format_summary, load_benchmark_episodes, summarize
from r1_sim.episodes import EpisodeError
from r1_sim.habitat_backend import navmesh_geodesic

DTW_NOTE = ("exact DTW with Euclidean point cost; VLN-CE's default is fastdtw (radius 1), an approximation "
            "never below the exact value, so VLN-CE's nDTW can be lower for the same path")


def episodes_main(argv: Sequence[str]) -> int:
    """``nav-r1 episodes inspect FILE [--gt GT]``: a summary of an episode file of either format."""
    p = argparse.ArgumentParser(prog="nav-r1 episodes", description="Inspect an episode file (ours or VLN-CE's).")
    sub = p.add_subparsers(dest="action", required=True)
    ins = sub.add_parser("inspect", help="count, scenes, languages, mean geodesic distance, instruction lengths")
    ins.add_argument("file", type=Path, help="episode file: ours (.json) or VLN-CE's (.json.gz or .json)")
    ins.add_argument("--gt", type=Path, default=None, help="VLN-CE ground truth (default: the _gt file beside it)")
    ins.add_argument("--json", action="store_true", help="print the summary as JSON")
    ns = p.parse_args(list(argv))
    try:
        summary = summarize(ns.file, ns.gt)
    except EpisodeError as exc:
        print(f"nav-r1 episodes: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=1) if ns.json else format_summary(summary))
    return 0


def navmesh_distance(navmesh: Path) -> Distance3D:
    """Geodesic distance on a habitat navigation mesh (needs habitat-sim)."""
    return navmesh_geodesic(str(navmesh))


def evaluate(
    episodes: BenchmarkEpisodes,
    paths: dict[str, Any],
    *,
    distance: Distance3D | None = None,
) -> tuple[dict[str, VlnceMetrics], list[str], list[str]]:
    """Score every episode that has a path; return the metrics, the missing ids and the unknown ids."""
    scored: dict[str, VlnceMetrics] = {}
    missing: list[str] = []
    for e in episodes.episodes:
        path = paths.get(e.episode_id)
        if path is None:
            missing.append(e.episode_id)
            continue
        scored[e.episode_id] = vlnce_episode_metrics(
            e.episode_id, path.positions, path.stopped, e.goal, e.reference, e.geodesic_distance,
            distance=distance, steps=path.steps)
    known = {e.episode_id for e in episodes.episodes}
    unknown = sorted(k for k in paths if k not in known)
    return scored, missing, unknown


def write_paths_report(out: Path, run: dict[str, Any], scored: dict[str, VlnceMetrics], missing: list[str],
                       unknown: list[str]) -> dict[str, Any]:
    """Write ``report.json`` and ``report.md`` into ``out``; return the JSON content."""
    agg = aggregate_vlnce(list(scored.values()))
    agg["missing"] = float(len(missing))
    report = {"run": run, "aggregate": agg, "episodes": {k: m.to_dict() for k, m in scored.items()},
              "missing": missing, "unknown": unknown}
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    n = len(scored)
    lines = [f"# VLN-CE metrics of `{run['agent']}` on `{Path(run['episodes_file']).name}`", "",
             f"Agent: **{run['agent']}**. {n} of {n + len(missing)} episodes scored"
             + (f"; **{len(missing)} missing from the paths file** (listed below, not in the means)" if missing
                else "") + ".", "",
             "## How it was measured", "", "| item | value |", "|---|---|",
             *[f"| {k} | {v} |" for k, v in run.items() if k != "agent"], "", "## Aggregate", ""]
    if n:
        lines += ["| " + " | ".join(METRIC_NAMES) + " |", "|" + "---|" * len(METRIC_NAMES),
                  "| " + " | ".join(f"{agg[k]:.3f}" for k in METRIC_NAMES) + " |", ""]
    else:
        lines += ["No episode had a path.", ""]
    lines += ["## Episodes", "", "| episode | " + " | ".join(METRIC_NAMES) + " | stopped |",
              "|---|" + "---|" * (len(METRIC_NAMES) + 1)]
    lines += [f"| {k} | " + " | ".join(f"{float(getattr(m, c)):.3f}" for c in METRIC_NAMES) + f" | {m.stopped} |"
              for k, m in scored.items()]
    if missing:
        lines += ["", f"## Missing ({len(missing)})", "", ", ".join(f"`{m}`" for m in missing)]
    if unknown:
        lines += ["", f"## In the paths file but not in the episodes ({len(unknown)})", "",
                  ", ".join(f"`{u}`" for u in unknown)]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    return report


def evaluate_paths_main(argv: Sequence[str]) -> int:
    """``nav-r1 evaluate-paths``: score any agent's trajectories with VLN-CE's measures."""
    p = argparse.ArgumentParser(prog="nav-r1 evaluate-paths", description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=Path, required=True, help="episode file: ours or VLN-CE's (.json[.gz])")
    p.add_argument("--gt", type=Path, default=None, help="VLN-CE ground truth (default: the _gt file beside it)")
    p.add_argument("--paths", type=Path, required=True, help="PATHS.json: episode id -> {positions, stopped}")
    p.add_argument("--out", type=Path, required=True, help="folder for report.json and report.md")
    p.add_argument("--agent", default="unnamed agent", help="whose paths these are (named in the report)")
    p.add_argument("--navmesh", type=Path, default=None,
                   help="habitat .navmesh of the scene: geodesic distances (needs habitat-sim); default 3-D Euclidean")
    ns = p.parse_args(list(argv))
    try:
        episodes = load_benchmark_episodes(ns.episodes, ns.gt)
        try:
            raw = json.loads(ns.paths.read_text())
        except OSError as exc:
            raise PathsError(f"{ns.paths}: cannot read: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise PathsError(f"{ns.paths}: not valid JSON: {exc}") from exc
        paths = parse_paths(raw, str(ns.paths))
        distance = navmesh_distance(ns.navmesh) if ns.navmesh is not None else None
        scored, missing, unknown = evaluate(episodes, paths, distance=distance)
    except (ValueError, ImportError) as exc:  # EpisodeError and PathsError are ValueErrors
        print(f"nav-r1 evaluate-paths: {exc}", file=sys.stderr)
        return 2
    refs = sorted({e.reference_kind for e in episodes.episodes})
    run = {
        "agent": ns.agent, "episodes_file": str(ns.episodes), "format": episodes.format, "frame": episodes.frame,
        "gt_file": str(episodes.gt_path) if episodes.gt_path else None, "paths_file": str(ns.paths),
        "distance": (f"geodesic on the navigation mesh {ns.navmesh}" if ns.navmesh is not None
                     else "3-D Euclidean (no navigation mesh)"),
        "success": f"stopped and ne < {VLNCE_SUCCESS_DISTANCE} m (VLN-CE)",
        "oracle_success": f"some position with distance to goal < {VLNCE_SUCCESS_DISTANCE} m",
        "spl_shortest_length": "the episode's geodesic distance (info.geodesic_distance)"
        if episodes.format == "vlnce" else "the episode's shortest_length",
        "ndtw": f"d_th = {VLNCE_SUCCESS_DISTANCE} m against {', '.join(refs)}; {DTW_NOTE}",
        "path_length": "sum of 3-D Euclidean steps between positions",
    }
    report = write_paths_report(ns.out, run, scored, missing, unknown)
    agg = report["aggregate"]
    if scored:
        print("  ".join(f"{k} {agg[k]:.3f}" for k in METRIC_NAMES) + f"  over {len(scored)} episodes")
    if missing:
        print(f"nav-r1 evaluate-paths: warning: {len(missing)} episode(s) have no path and are not in the means: "
              f"{', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}", file=sys.stderr)
    print(f"nav-r1 evaluate-paths: report written to {ns.out / 'report.md'}")
    return 0
