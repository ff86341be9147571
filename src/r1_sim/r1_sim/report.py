"""Run reports: a top-down plot per episode and report.md + report.json with the metrics."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from r1_core.nav.metrics import EpisodeMetrics, aggregate
from r1_core.nav.vlnce_metrics import METRIC_NAMES, VLNCE_SUCCESS_DISTANCE, VlnceMetrics, aggregate_vlnce
from r1_sim.navmap import NavMap
from r1_sim.scene import Scene


def _as_path(points: ArrayLike) -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64)
    return np.zeros((0, 2)) if arr.size == 0 else arr.reshape(-1, arr.shape[-1])


def top_down_plot(
    scene: Scene,
    navmap: NavMap | None,
    reference: ArrayLike,
    actual: ArrayLike,
    path_png: str | Path,
    *,
    goal: Sequence[float] | None = None,
    success_radius: float | None = None,
    title: str = "",
) -> Path:
    """Draw the floor plan, labelled furniture, the reference (dashed) and actual path to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, Rectangle

    ref, act = _as_path(reference), _as_path(actual)
    x0, y0, x1, y1 = scene.bounds
    fig, ax = plt.subplots(figsize=(max(4.0, (x1 - x0) * 0.7), max(4.0, (y1 - y0) * 0.7)), dpi=100)
    try:
        if navmap is not None:
            ox, oy = navmap.origin
            ax.imshow(navmap.free, origin="lower", cmap="Greys", alpha=0.15, vmin=0, vmax=1,
                      extent=(ox, ox + navmap.width * navmap.resolution, oy, oy + navmap.height * navmap.resolution))
        for room in scene.rooms:
            ax.text(*room.center, room.name, ha="center", va="center", fontsize=8, color="0.45", style="italic")
        for w in scene.walls:
            bx0, by0, bx1, by1 = w.footprint()
            ax.add_patch(Rectangle((bx0, by0), bx1 - bx0, by1 - by0, color="0.2"))
        for o in scene.objects:
            bx0, by0, bx1, by1 = o.box.footprint()
            ax.add_patch(Rectangle((bx0, by0), bx1 - bx0, by1 - by0, color=o.rgba[:3], alpha=0.7))
            ax.text(o.box.center[0], o.box.center[1], o.label, ha="center", va="center", fontsize=6)
        if len(ref):
            ax.plot(ref[:, 0], ref[:, 1], "--", color="tab:green", lw=1.5, label="reference")
        if len(act):
            ax.plot(act[:, 0], act[:, 1], "-", color="tab:blue", lw=1.5, label="actual")
            ax.plot(act[0, 0], act[0, 1], "o", color="tab:blue", ms=6)
            ax.plot(act[-1, 0], act[-1, 1], "s", color="tab:blue", ms=5)
        if goal is not None:
            ax.plot(goal[0], goal[1], "*", color="tab:red", ms=12, label="goal")
            if success_radius:
                ax.add_patch(Circle((goal[0], goal[1]), success_radius, fill=False, ls=":", color="tab:red"))
        ax.set_xlim(x0 - 0.2, x1 + 0.2)
        ax.set_ylim(y0 - 0.2, y1 + 0.2)
        ax.set_aspect("equal")
        ax.set_xlabel("x [m]")
        ax.set_ylabel("y [m]")
        if title:
            ax.set_title(title, fontsize=8)
        ax.legend(loc="upper right", fontsize=7)
        out = Path(path_png)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, bbox_inches="tight")
    finally:
        plt.close(fig)
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.3f}"
    return str(v)


def _aggregate_lines(agg: Mapping[str, float], vlnce: Sequence[VlnceMetrics]) -> list[str]:
    """report.md's aggregate sections: ours, and VLN-CE's standard when given."""
    n = int(agg.get("episodes", 0))
    lines = ["## Aggregate", "", f"{n} episodes.", ""]
    if n:
        lines += ["| NE [m] | SR | OSR | SPL | nDTW | SDTW | collisions | episode time [s] |",
                  "|---|---|---|---|---|---|---|---|",
                  f"| {agg['ne']:.2f} | {agg['success']:.3f} | {agg['oracle_success']:.3f} | {agg['spl']:.3f} | "
                  f"{agg['ndtw']:.3f} | {agg['sdtw']:.3f} | {int(agg['total_collisions'])} | "
                  f"{agg['episode_time']:.1f} |",
                  ""]
    if vlnce:
        lines += [f"## VLN-CE standard (success < {VLNCE_SUCCESS_DISTANCE:g} m, d_th {VLNCE_SUCCESS_DISTANCE:g} m)",
                  "", *vlnce_table(vlnce), ""]
    return lines


def vlnce_table(vlnce: Sequence[VlnceMetrics]) -> list[str]:
    """VLN-CE's aggregate figures as a one-row Markdown table (``["No episodes."]`` without episodes)."""
    if not vlnce:
        return ["No episodes."]
    agg = aggregate_vlnce(vlnce)
    return ["| " + " | ".join(METRIC_NAMES) + " |", "|" + "---|" * len(METRIC_NAMES),
            "| " + " | ".join(f"{agg[k]:.3f}" for k in METRIC_NAMES) + " |"]


def _episode_lines(run: Path, episodes_metrics: Sequence[EpisodeMetrics]) -> list[str]:
    """report.md's per-episode table, linking ``<episode_id>.png`` in ``run`` or ``run/plots``."""
    lines = ["## Episodes", "",
             "| episode | NE [m] | success | OSR | SPL | nDTW | path [m] | shortest [m] | collisions | time [s] "
             "| plot |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in episodes_metrics:
        plot = next((p for p in (run / f"{m.episode_id}.png", run / "plots" / f"{m.episode_id}.png") if p.is_file()),
                    None)
        link = f"[plot]({plot.relative_to(run)})" if plot else ""
        lines.append(f"| {m.episode_id} | {m.ne:.2f} | {int(m.success)} | {int(m.oracle_success)} | {m.spl:.3f} | "
                     f"{m.ndtw:.3f} | {m.path_length:.2f} | {m.shortest_length:.2f} | {m.collisions} | "
                     f"{m.episode_time:.1f} | {link} |")
    return lines


def write_report(
    run_dir: str | Path,
    episodes_metrics: Sequence[EpisodeMetrics],
    extra: Mapping[str, Any] | None = None,
    *,
    reasoner: str,
    success_radius: float,
    vlnce: Sequence[VlnceMetrics] = (),
) -> tuple[Path, Path]:
    """Write ``report.json`` (aggregate, per-episode metrics, ``extra``) and a readable ``report.md``.

    The report names the ``reasoner`` and the ``success_radius`` the metrics used; ``vlnce`` (the
    same episodes under VLN-CE's 3 m rules, :func:`r1_core.nav.vlnce_metrics.vlnce_episode_metrics`)
    adds the VLN-CE-standard figures.  Plots named ``<episode_id>.png`` in ``run_dir`` (or its
    ``plots/``) are linked from the table.
    """
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    extra = dict(extra or {})
    agg = aggregate(episodes_metrics)
    data: dict[str, Any] = {"reasoner": reasoner, "success_radius_m": success_radius, "aggregate": agg,
                            "episodes": [m.to_dict() for m in episodes_metrics], **extra}
    if vlnce:
        data["vlnce_standard"] = {"success_distance_m": VLNCE_SUCCESS_DISTANCE, "aggregate": aggregate_vlnce(vlnce),
                                  "episodes": [v.to_dict() for v in vlnce]}
    json_path = run / "report.json"
    json_path.write_text(json.dumps(data, indent=1, default=str))
    lines = ["# Navigation run report", "", f"Reasoner: **{reasoner}**. Success radius and nDTW d_th: "
             f"{success_radius:g} m" + (f" (VLN-CE's standard {VLNCE_SUCCESS_DISTANCE:g} m figures below)."
                                         if vlnce else "."), ""]
    if extra:
        lines += ["## Run", "", "| key | value |", "|---|---|"]
        for k, v in extra.items():
            text = json.dumps(v, default=str) if isinstance(v, (dict, list)) else _fmt(v)
            lines.append(f"| {k} | {text.replace('|', '/')} |")
        lines.append("")
    lines += _aggregate_lines(agg, vlnce) + _episode_lines(run, episodes_metrics)
    md_path = run / "report.md"
    md_path.write_text("\n".join(lines) + "\n")
    return md_path, json_path
